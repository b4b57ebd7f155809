"""Type stubs for ``puff._native``, the module the Puff runtime registers at start-up."""

import contextvars
from typing import Any, Callable

__version__: str

class PuffError(Exception): ...
class PuffTimeoutError(PuffError): ...
class PuffIOError(PuffError): ...
class PuffPanicError(PuffError): ...
class NotInGreenletError(PuffError): ...
class RequestBodyTooLarge(PuffError): ...

class SpawnHandle:
    def join(self) -> Any: ...
    def done(self) -> bool: ...

class TraceContext:
    """The trace the calling code runs in (``puff.trace_context()``)."""

    @property
    def trace_id(self) -> str: ...
    @property
    def span_id(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    @property
    def sampled(self) -> bool: ...

class ReturnFunc:
    def __call__(self, result: Any = None, error: BaseException | None = None) -> None: ...

# In a greenlet these return their result; in a coroutine on Puff's event loop
# (asyncio = true) they return an awaitable of it.
def sleep_ms(ms: int) -> Any: ...
def read_file_bytes(path: str) -> Any: ...
def run_blocking(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> Any: ...
def spawn(
    f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> SpawnHandle: ...
def wrap_async(f: Callable[[ReturnFunc], Any]) -> Any: ...
def run_coroutine(awaitable: Any) -> Any: ...
def global_state() -> Any: ...
def trace_context() -> TraceContext | None: ...

class _PostgresColumn:
    """A ``cursor.description`` row (psycopg2's ``Column``): the 7-item DB-API sequence
    ``(name, type_code, display_size, internal_size, precision, scale, null_ok)`` with those
    attributes, plus ``table_oid`` and ``table_column``."""

    name: Any
    type_code: Any
    display_size: Any
    internal_size: Any
    precision: Any
    scale: Any
    null_ok: Any
    table_oid: Any
    table_column: Any
    def __init__(
        self,
        name: Any = None,
        type_code: Any = None,
        display_size: Any = None,
        internal_size: Any = None,
        precision: Any = None,
        scale: Any = None,
        null_ok: Any = None,
        table_oid: Any = None,
        table_column: Any = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int | slice) -> Any: ...
    def __iter__(self) -> Any: ...

class _PostgresNativeConnection:
    closed: bool
    in_transaction: bool
    transaction_failed: bool
    pool_name: str
    borrowed: bool
    jsonb_loads: Callable[[str], Any] | None
    hstore_dicts: bool
    def set_isolation_level(self, level: str | None) -> None: ...
    def session_zone(self) -> str | None: ...
    def execute(
        self,
        sql: str,
        param_sets: list[list[Any]],
        begin: bool,
        tzinfo_factory: Any,
        bytea_memoryview: bool = False,
        interval_text_oids: tuple[int, ...] | None = None,
    ) -> tuple[tuple[_PostgresColumn, ...] | None, list[tuple[Any, ...]], int]: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...

# The exception classes of the native submodules, with their real bases, so the wrappers
# (puff.postgres, puff.redis, puff.http) hand typed classes to their users.
class _PostgresWarning(Exception): ...

class _PostgresError(PuffError):
    pgcode: str | None
    pgerror: str | None

class _PostgresInterfaceError(_PostgresError): ...
class _PostgresDatabaseError(_PostgresError): ...
class _PostgresDataError(_PostgresDatabaseError): ...
class _PostgresOperationalError(_PostgresDatabaseError): ...
class _PostgresIntegrityError(_PostgresDatabaseError): ...
class _PostgresInternalError(_PostgresDatabaseError): ...
class _PostgresProgrammingError(_PostgresDatabaseError): ...
class _PostgresNotSupportedError(_PostgresDatabaseError): ...

class _PostgresModule:
    """``puff._native.postgres`` (present when built with the `postgres` feature)."""

    NativeConnection: type[_PostgresNativeConnection]
    Column: type[_PostgresColumn]
    Warning: type[_PostgresWarning]
    Error: type[_PostgresError]
    InterfaceError: type[_PostgresInterfaceError]
    DatabaseError: type[_PostgresDatabaseError]
    DataError: type[_PostgresDataError]
    OperationalError: type[_PostgresOperationalError]
    IntegrityError: type[_PostgresIntegrityError]
    InternalError: type[_PostgresInternalError]
    ProgrammingError: type[_PostgresProgrammingError]
    NotSupportedError: type[_PostgresNotSupportedError]
    def connect(
        self, name: str = "default", database: str | None = None
    ) -> _PostgresNativeConnection: ...
    def pool_names(self) -> list[str]: ...
    def pool_status(self, name: str = "default") -> dict[str, int]: ...
    def pool_database(self, name: str = "default") -> str: ...
    def set_session_timezone(self, name: str, tz: str | None) -> None: ...
    def session_timezone(self, name: str = "default") -> str | None: ...
    def set_hstore_dicts(self, on: bool) -> None: ...
    # Every item a tuple or list (exactly) of `width` values whose exact types are in `types`.
    def plain_rows(self, seq: list[Any], width: int, types: set[type]) -> bool: ...
    # Count one more (hold=True) or one fewer open WITH HOLD cursor on the connection; its
    # pooled connection stays checked out while any is open (wait=False: release later).
    def hold_session(
        self, conn: _PostgresNativeConnection, hold: bool, wait: bool = True
    ) -> None: ...
    # (pid, channel, payload) of the notifications its session received since last time.
    def take_notifies(self, conn: _PostgresNativeConnection) -> list[tuple[int, str, str]]: ...
    # COPY ... FROM STDIN fed with read(size) until it returns nothing; returns the rows.
    def copy_in(
        self,
        conn: _PostgresNativeConnection,
        sql: str,
        read: Callable[[int], str | bytes],
        size: int,
        begin: bool,
    ) -> int: ...
    # COPY ... TO STDOUT passed to write() in chunks of whole rows (str when text); returns
    # the number of data messages (one per row, plus binary/CSV header ones).
    def copy_out(
        self,
        conn: _PostgresNativeConnection,
        sql: str,
        write: Callable[[Any], Any],
        text: bool,
        begin: bool,
    ) -> int: ...

postgres: _PostgresModule

class _RedisNativeClient:
    name: str
    # `reply` picks the conversion: "raw", "ok", "bool", "int", "float", "dict", "set",
    # "scores", "pair", "bools" (see puff.redis). In a greenlet these return the reply; in
    # a coroutine on Puff's event loop an awaitable of it. Blocking commands (BLPOP, XREAD
    # BLOCK, ...) run on dedicated connections outside the pool.
    def command(self, args: list[Any] | tuple[Any, ...], reply: str = "raw") -> Any: ...
    # With raise_on_error=False a failing command's exception takes its place in the list.
    def pipeline(
        self,
        commands: list[tuple[list[Any], str]],
        transaction: bool = True,
        raise_on_error: bool = True,
    ) -> Any: ...

class _RedisError(PuffError): ...
class _RedisResponseError(_RedisError): ...
class _RedisNoScriptError(_RedisResponseError): ...
class _RedisExecAbortError(_RedisResponseError): ...
class _RedisConnectionError(_RedisError): ...
class _RedisTimeoutError(_RedisError): ...
class _RedisDataError(_RedisError): ...

class _RedisModule:
    """``puff._native.redis`` (present when built with the `redis` feature)."""

    NativeRedis: type[_RedisNativeClient]
    RedisError: type[_RedisError]
    ResponseError: type[_RedisResponseError]
    ConnectionError: type[_RedisConnectionError]
    TimeoutError: type[_RedisTimeoutError]
    DataError: type[_RedisDataError]
    NoScriptError: type[_RedisNoScriptError]
    ExecAbortError: type[_RedisExecAbortError]
    def client(self, name: str = "default") -> _RedisNativeClient: ...
    def pool_names(self) -> list[str]: ...
    def pool_status(self, name: str = "default") -> dict[str, int]: ...

redis: _RedisModule

class _PubSubMessage:
    channel: str
    body: bytes
    text: str
    from_connection_id: str

class _PubSubNativeConnection:
    connection_id: str
    closed: bool
    # subscribe/unsubscribe/publish return True (an awaitable of it from a coroutine).
    def subscribe(self, channel: str) -> Any: ...
    def unsubscribe(self, channel: str) -> Any: ...
    def publish(self, channel: str, message: str | bytes) -> Any: ...
    # A message, or None on timeout / after close(); an awaitable of it from a coroutine.
    def receive(self, timeout_ms: int | None = None) -> Any: ...
    def close(self) -> None: ...

class _PubSubNativeClient:
    name: str
    backend: str  # "redis" or "memory"
    def new_connection_id(self) -> str: ...
    def connection(self) -> _PubSubNativeConnection: ...
    def connection_with_id(self, connection_id: str) -> _PubSubNativeConnection: ...
    def publish(self, channel: str, message: str | bytes) -> Any: ...
    def publish_as(self, connection_id: str, channel: str, message: str | bytes) -> Any: ...

class _PubSubModule:
    """``puff._native.pubsub`` (present when built with the `pubsub` feature)."""

    PubSubMessage: type[_PubSubMessage]
    NativePubSub: type[_PubSubNativeClient]
    NativePubSubConnection: type[_PubSubNativeConnection]
    def client(self, name: str = "default") -> _PubSubNativeClient: ...
    def names(self) -> list[str]: ...

pubsub: _PubSubModule

class _TaskQueueNative:
    name: str
    backend: str  # "redis" or "memory"
    max_concurrent_tasks: int
    has_event_loop: bool
    # Each returns its result in a greenlet, an awaitable of it in a coroutine.
    def schedule(
        self,
        function: str,
        payload: Any,
        scheduled_time_unix_ms: int | None,
        timeout_ms: int,
        keep_results_for_ms: int,
        max_retries: int | None,
        unique_key: str | None = None,
    ) -> Any: ...
    def task_result(self, task_id: str) -> Any: ...
    def wait_for_task_result(self, task_id: str, poll_interval_ms: int, timeout_ms: int) -> Any: ...
    def cancel(self, task_id: str) -> Any: ...
    def dead_letters(self, limit: int = 100) -> Any: ...
    def counts(self) -> Any: ...
    def add_periodic(
        self,
        function: str,
        cron: str | None,
        every_ms: int | None,
        payload: Any,
        tz: str | None,
        catch_up: str,
        catch_up_max: int,
        grace_ms: int,
        name: str | None,
        timeout_ms: int,
        keep_results_for_ms: int,
        max_retries: int | None,
    ) -> str: ...
    def remove_periodic(self, name: str) -> bool: ...
    def periodic_names(self) -> list[str]: ...
    def periodic_task_id(self, name: str, tick_unix_ms: int) -> str: ...
    def set_rate_limit(self, function: str, limit: int | None, period_ms: int) -> None: ...
    def rate_limits(self) -> dict[str, dict[str, int]]: ...

class _TaskError(PuffError):
    task_id: str
    error_type: str
    message: str
    traceback: str

class _TaskQueueModule:
    """``puff._native.task_queue`` (present when built with the `tasks` feature)."""

    TaskError: type[_TaskError]
    NativeTaskQueue: type[_TaskQueueNative]
    def client(self, name: str = "default") -> _TaskQueueNative: ...
    def names(self) -> list[str]: ...
    # (task id, function, attempt) of the running task; set by the worker.
    _current_task: contextvars.ContextVar[tuple[str, str, int]]
    # With the `postgres` feature too (puff-tasks `outbox`): the statement
    # `schedule_function(transaction=)` runs on the caller's connection.
    def outbox_statement(
        self,
        queue: str,
        function: str,
        payload: Any,
        scheduled_time_unix_ms: int | None,
        timeout_ms: int,
        keep_results_for_ms: int,
        max_retries: int | None,
    ) -> tuple[str, str, tuple[str, str, str, str, str]]: ...

task_queue: _TaskQueueModule

class _GraphQLContext:
    """``context`` of a GraphQL resolver call."""

    @property
    def auth_token(self) -> str | None: ...
    def __len__(self) -> int: ...
    def parent_values(self, columns: list[str]) -> list[list[Any]]: ...

class _GraphQLModule:
    """``puff._native.graphql`` (present when built with the `graphql` feature)."""

    Context: type[_GraphQLContext]
    def query(
        self,
        name: str,
        query: str,
        variables: dict[str, Any] | None = None,
        auth_token: str | None = None,
        operation_name: str | None = None,
    ) -> Any: ...
    def names(self) -> list[str]: ...

graphql: _GraphQLModule

class _HttpResponse:
    status: int
    headers: dict[str, str]
    url: str
    http_version: str
    # In a greenlet these return the body; in a coroutine an awaitable of it.
    def body(self) -> Any: ...
    def text(self) -> Any: ...
    def json(self) -> Any: ...

class _HttpClient:
    name: str
    # Each returns an _HttpResponse in a greenlet, an awaitable of it in a coroutine.
    def request(
        self,
        method: str,
        url: str,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        timeout_ms: int | None = None,
    ) -> Any: ...
    def get(self, url: str, **kwargs: Any) -> Any: ...
    def post(self, url: str, **kwargs: Any) -> Any: ...
    def put(self, url: str, **kwargs: Any) -> Any: ...
    def patch(self, url: str, **kwargs: Any) -> Any: ...
    def delete(self, url: str, **kwargs: Any) -> Any: ...
    def head(self, url: str, **kwargs: Any) -> Any: ...

class _HttpError(PuffIOError): ...
class _HttpConnectError(_HttpError): ...
class _HttpTimeoutError(_HttpError): ...
class _HttpJSONDecodeError(_HttpError): ...

class _HttpModule:
    """``puff._native.http`` (present when built with the `http` feature)."""

    HttpClient: type[_HttpClient]
    HttpResponse: type[_HttpResponse]
    HttpError: type[_HttpError]
    ConnectError: type[_HttpConnectError]
    TimeoutError: type[_HttpTimeoutError]
    JSONDecodeError: type[_HttpJSONDecodeError]
    def client(self, name: str = "default") -> _HttpClient: ...

http: _HttpModule
