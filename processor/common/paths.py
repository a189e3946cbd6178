"""Where the project's own read-only resources live (templates, schemas)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # processor/, this file lives in processor/common/
PROJECT_ROOT = PACKAGE_DIR.parent
# In a checkout the templates are the committed templates/ folder; an installed wheel carries them
# as processor/templates/ (pyproject.toml maps the one onto the other).
_INSTALLED_TEMPLATES = PACKAGE_DIR / "templates"
TEMPLATES_DIR = _INSTALLED_TEMPLATES if _INSTALLED_TEMPLATES.is_dir() else PROJECT_ROOT / "templates"
# The same for the schemas/ folder: processor/schemas/ once installed (the models import as processor.schemas)
_INSTALLED_SCHEMAS = PACKAGE_DIR / "schemas"
SCHEMAS_DIR = _INSTALLED_SCHEMAS if _INSTALLED_SCHEMAS.is_dir() else PROJECT_ROOT / "schemas"
RULEBOOK_PATH = SCHEMAS_DIR / "requirements.toml"
WORKSPACE_ENV = "PROCESSOR_WORKSPACE"  # names the workspace folder when no --workspace is given
