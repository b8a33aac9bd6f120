"""Settings read once from the environment, with typed parsing that fails loudly."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPSBINDER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path(user_data_dir("opsbinder", appauthor=False)))
    database_url: str | None = None
    config_dir: Path = Path("config")
    base_url: str = "http://127.0.0.1:8080"
    spool_dir: Path | None = None

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'opsbinder.db'}"

    @property
    def spool(self) -> Path:
        return self.spool_dir or self.home / "spool"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
