"""Names the service modules share."""

from typing import Literal

Side = Literal["visitor", "operator"]
