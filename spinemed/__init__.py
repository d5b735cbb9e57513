"""SpineMed release kit: SpineMed-450k / SpineBench builders, scoring, training and the Space."""

__version__ = "0.1.0"
