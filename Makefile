# Two commands set up a fresh Debian/Ubuntu machine and run:
#   make demo   — the whole flow on the sample scripts, in a throw-away station folder demo/
#   make test   — the test suite
# Both install what is missing first: Debian packages (apt-get, through sudo when not root),
# then a virtual environment .venv with the project in it.

SHELL := /bin/bash
APT_PACKAGES := ffmpeg espeak-ng fonts-noto-cjk sqlite3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
B := $(abspath $(BIN))/broadcast

.PHONY: demo test setup deps lint bench clean

setup: deps $(STAMP)

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	py=$$(command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3); \
	if ! $$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  echo "需要 Python 3.11 或更新版本（当前：$$($$py --version 2>&1)）"; missing="$$missing python3"; fi; \
	$$py -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
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
	@py=$$(command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3); \
	test -x $(BIN)/python || $$py -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check broadcast tests bench audio
	$(BIN)/ruff format --check broadcast tests bench audio

bench: setup
	$(BIN)/python bench/startup.py

# The demo station lives in demo/ (git-ignored): a copy of config.toml, the lexicon and the jingles,
# with its own station.db, so it never touches the real station's database.
demo: setup
	@rm -rf demo && mkdir -p demo/audio
	@cp config.toml demo/ && cp lexicon.toml demo/ 2>/dev/null || true
	@cp audio/*.wav demo/audio/ 2>/dev/null || true
	@set -e; cd demo; \
	run() { echo; echo "\$$ broadcast $$*"; $(B) "$$@"; }; \
	run config check; \
	iconv -f UTF-8 -t GB18030 ../scripts/禁毒_远离新型毒品.txt > 禁毒_GB18030.txt; \
	run scripts add 禁毒_GB18030.txt; \
	run queue add ../scripts/反电诈_冒充客服退款.md ../scripts/宪法日_宪法伴我们成长.md --times 30; \
	run queue add 1 --villages 青石村,东岭村,西河村 --from 2026-12-01 --until 2026-12-31; \
	run queue add ../scripts/民法典_邻里纠纷与高空抛物.md ../scripts/网络安全_守护个人信息.txt ../scripts/防溺水_暑期安全提醒.txt; \
	run queue move 3 --to 1; \
	run scripts list; \
	run queue list; \
	echo; echo "演示完成：演示站点在 demo/ 文件夹（demo/station.db）。"

clean:
	rm -rf demo .pytest_cache .ruff_cache
