#!/usr/bin/env python3
"""orchestrd from Python: spawn, join, select and timeout through stubs generated from proto/.

Every call goes through the generated orch.v1 stubs (tasks_pb2*, tenants_pb2*) and the
`authorization: Bearer TOKEN` metadata; nothing here is specific to this example's tasks.

    PYTHONPATH=build/client/python/gen python3 client/python/example.py \
        --addr 127.0.0.1:50051 --token "$ORCH_TOKEN"

It prints one line per step and exits 0 when every step ended as expected, 1 when a task ended
otherwise, and 3 on an RPC error (the codes of orchctl).
"""

import argparse
import os
import sys

import grpc
from google.protobuf import duration_pb2

from orch.v1 import tasks_pb2, tasks_pb2_grpc, tenants_pb2, tenants_pb2_grpc

# Longest wait of any call, on the client side: every call here is bounded.
CALL_DEADLINE_S = 30.0
# Long enough that it never finishes on its own while the example runs.
LONG_S = 600.0


class Unexpected(Exception):
    """A task ended in a state the example did not expect."""


# --- building task specs -------------------------------------------------------------------


def duration(seconds):
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


def sleep(seconds):
    """A timer leaf: SUCCEEDED after `seconds`; holds one of the tenant's permits meanwhile."""
    return tasks_pb2.TaskSpec(sleep=tasks_pb2.SleepNode(duration=duration(seconds)))


def select(*children):
    """The first child to finish wins; the others are cancelled."""
    return tasks_pb2.TaskSpec(select=tasks_pb2.SelectNode(children=list(children)))


def timeout(seconds, child):
    """`child`'s result if it ends within `seconds`, otherwise TIMED_OUT (child cancelled)."""
    return tasks_pb2.TaskSpec(
        timeout=tasks_pb2.TimeoutNode(duration=duration(seconds), child=child))


def state_name(state):
    return tasks_pb2.TaskState.Name(state).removeprefix("TASK_STATE_")


# --- the client ------------------------------------------------------------------------------


class Orch:
    """The stubs of one daemon, acting as the tenant of `token`."""

    def __init__(self, addr, token):
        # No proxy for a daemon on loopback, whatever http_proxy says.
        self.channel = grpc.insecure_channel(addr, options=[("grpc.enable_http_proxy", 0)])
        self.tasks = tasks_pb2_grpc.TaskServiceStub(self.channel)
        self.tenants = tenants_pb2_grpc.TenantServiceStub(self.channel)
        self.metadata = [("authorization", "Bearer " + token)] if token else []

    def call(self, method, request):
        return method(request, metadata=self.metadata, timeout=CALL_DEADLINE_S)

    def spawn(self, spec, name=""):
        return self.call(self.tasks.Spawn, tasks_pb2.SpawnRequest(spec=spec, name=name)).id

    def join(self, ids, timeout_s=0.0):
        request = tasks_pb2.JoinRequest(ids=ids)
        if timeout_s:
            request.timeout.CopyFrom(duration(timeout_s))
        return list(self.call(self.tasks.Join, request).tasks)

    def close(self):
        self.channel.close()


def expect(what, task, state):
    if task.state != state:
        raise Unexpected("%s: task %s is %s, expected %s (error: %r)" % (
            what, task.id, state_name(task.state), state_name(state), task.result.error))


# --- the steps -------------------------------------------------------------------------------


def run(orch):
    me = orch.call(orch.tenants.WhoAmI, tenants_pb2.WhoAmIRequest())
    print("tenant: %s (max_concurrency=%d)" % (me.tenant, me.limits.max_concurrency))

    # spawn + join: one task, waited for.
    task_id = orch.spawn(sleep(0.05), name="py-sleep")
    [task] = orch.join([task_id])
    expect("join", task, tasks_pb2.TASK_STATE_SUCCEEDED)
    print("spawn+join: %s %s name=%s" % (task.id, state_name(task.state), task.name))

    # select over tasks (the RPC): the first of two tasks to end wins, the other is aborted.
    slow = orch.spawn(sleep(LONG_S), name="py-slow")
    fast = orch.spawn(sleep(0.05), name="py-fast")
    chosen = orch.call(orch.tasks.Select,
                       tasks_pb2.SelectRequest(ids=[slow, fast], abort_losers=True))
    expect("select", chosen.task, tasks_pb2.TASK_STATE_SUCCEEDED)
    if chosen.winner != 1:
        raise Unexpected("select: winner %d, expected 1 (the fast task)" % chosen.winner)
    [loser] = orch.join([slow])
    expect("select loser", loser, tasks_pb2.TASK_STATE_CANCELLED)
    print("select: winner=%d %s %s; loser %s %s" % (
        chosen.winner, chosen.task.id, state_name(chosen.task.state), loser.id,
        state_name(loser.state)))

    # select inside one task (the node): the same race within a tree.
    [raced] = orch.join([orch.spawn(select(sleep(LONG_S), sleep(0.05)))])
    expect("select node", raced, tasks_pb2.TASK_STATE_SUCCEEDED)
    print("select node: %s %s winner=%d" % (
        raced.id, state_name(raced.state), raced.result.select.winner))

    # timeout node: the deadline wins, the child is cancelled.
    [timed] = orch.join([orch.spawn(timeout(0.1, sleep(LONG_S)))])
    expect("timeout node", timed, tasks_pb2.TASK_STATE_TIMED_OUT)
    print("timeout node: %s %s child=%s" % (
        timed.id, state_name(timed.state), state_name(timed.result.timeout.child.state)))

    # A Join that gives up: DEADLINE_EXCEEDED is an RPC status; then abort the task.
    long_id = orch.spawn(sleep(LONG_S), name="py-long")
    try:
        orch.join([long_id], timeout_s=0.2)
        raise Unexpected("join with timeout: returned before a %gs task ended" % LONG_S)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
        waited = error.code().name
    aborted = orch.call(orch.tasks.Abort, tasks_pb2.AbortRequest(ids=[long_id])).aborted
    [stopped] = orch.join([long_id])
    expect("abort", stopped, tasks_pb2.TASK_STATE_CANCELLED)
    print("join timeout: %s; abort: %s %s (aborted=%d)" % (
        waited, stopped.id, state_name(stopped.state), len(aborted)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default=os.environ.get("ORCH_ADDR", "127.0.0.1:50051"),
                        help="gRPC address of orchestrd (default: $ORCH_ADDR or %(default)s)")
    parser.add_argument("--token", default=os.environ.get("ORCH_TOKEN", ""),
                        help="tenant bearer token (default: $ORCH_TOKEN)")
    args = parser.parse_args()

    orch = Orch(args.addr, args.token)
    try:
        run(orch)
    except Unexpected as error:
        print("example: %s" % error, file=sys.stderr)
        return 1
    except grpc.RpcError as error:
        print("%s: %s" % (error.code().name, error.details()), file=sys.stderr)
        return 3
    finally:
        orch.close()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
