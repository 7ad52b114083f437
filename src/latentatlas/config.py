"""The name earlier releases used for `latentatlas.settings`; kept so that user code and
notebooks importing `latentatlas.config` keep working. New code imports settings."""

from .settings import *  # noqa: F401,F403
from .settings import __all__  # noqa: F401
