"""broadcast: legal-education programmes for the village loudspeakers (村村响)."""

__version__ = "0.1.0"
