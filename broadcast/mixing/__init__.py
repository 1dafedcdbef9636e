"""Programme audio: speech + jingles + optional music bed -> a broadcast-loudness file.

``master`` is the entry point. The stage is split by job: ``compose`` (pydub: the
programme's timeline), ``loudness`` (BS.1770 meter, 8x true peak), ``limiter`` (true-peak
limiter and make-up solver), ``ffmpeg`` (probe, decode, encode with read-back),
``mastering`` (the loop that ties them). numpy, scipy and pydub are imported inside
functions, so importing this package stays cheap.
"""

from .ffmpeg import probe_duration
from .mastering import MixResult, MixSettings, master, measure

__all__ = ["MixResult", "MixSettings", "master", "measure", "probe_duration"]
