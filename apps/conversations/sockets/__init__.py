"""The two websockets, thin: `visitor.py` (`/ws/widget/`), `operator.py` (`/ws/app/`).

`auth.py` resolves who is on the other end once, at the handshake (the tenancy edge for
sockets); `base.py` holds what both share (frame limits, budgets, errors, delivery,
upkeep); `urls.py` mounts them. Domain rules live in `apps/conversations/services/`.
"""
