"""Where the project's own read-only resources live (templates, schemas)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # processor/, this file lives in processor/common/
PROJECT_ROOT = PACKAGE_DIR.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
RULEBOOK_PATH = SCHEMAS_DIR / "requirements.toml"
WORKSPACE_ENV = "PROCESSOR_WORKSPACE"  # names the workspace folder when no --workspace is given
