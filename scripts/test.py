"""`make test`: the whole suite, on SQLite and an embedded Redis unless DATABASE_URL/REDIS_URL say otherwise."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devservices  # noqa: E402


def main() -> int:
    devservices.ensure_redis()
    import pytest

    os.chdir(devservices.ROOT)
    return pytest.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
