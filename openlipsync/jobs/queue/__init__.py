"""The job transport: in-process pool or Celery; it carries "render project X", nothing more."""
