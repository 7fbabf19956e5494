from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
LOGGING["root"]["level"] = env("LOG_LEVEL", default="INFO")  # noqa: F405
