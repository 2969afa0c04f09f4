"""PostgreSQL backend that keeps the connection's role and tenant setting in step with the scope.

Django's own backend plus one execute wrapper (`apps.core.rls.sync_connection`) and the
bookkeeping that forgets the applied state when a transaction or savepoint ends.
"""

from django.db.backends.postgresql import base

from apps.core import rls


def _sync_before(execute, sql, params, many, context):
    rls.sync_connection(context["connection"])
    return execute(sql, params, many, context)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (role, tenant id, set locally) as last sent to this connection; None: unknown.
        self.parley_rls_state = None
        self.execute_wrappers.append(_sync_before)

    def init_connection_state(self):
        self.parley_rls_state = None
        super().init_connection_state()

    def _commit(self):
        self.parley_rls_state = None
        return super()._commit()

    def _rollback(self):
        self.parley_rls_state = None
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self.parley_rls_state = None

    def _close(self):
        self.parley_rls_state = None
        return super()._close()
