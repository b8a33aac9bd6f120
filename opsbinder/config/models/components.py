"""The services a client's status page shows: the `components:` section of the binder.

An incident belongs to a component when its `component` is the component's id (a person
declaring it names the id; monitoring's names are mapped to ids in `events:`). A name monitoring
sends that maps to no component is never shown to the client: a raw host name says too much.
"""

from __future__ import annotations

from pydantic import Field

from opsbinder.config.models.base import Slug, Strict


class Component(Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=200, description="as the client calls it")
    description: str = Field("", max_length=1000)
