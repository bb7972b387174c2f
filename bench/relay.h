#pragma once
// The gRPC relay floor of scenario 1 (service orch.bench.Relay): a server that only forwards
// each client's Hop to one worker and the worker's reply back, the worker that answers each Hop
// with itself, and the client's round trip. Four gRPC stream hops and nothing else: the least a
// worker round trip over gRPC streams can cost on this machine.

#include <cstdint>
#include <functional>
#include <string>

namespace bench {

/// Serves Relay on 127.0.0.1:`port` until the process is stopped.
void relay_server(std::uint16_t port);

/// Connects to the relay at 127.0.0.1:`port` as its worker and answers every Hop; writes
/// `ready` once the relay has answered the worker's first Hop. Returns when the stream ends.
void relay_worker(std::uint16_t port, const std::string& ready);

/// Makes client round trips on one channel to the relay at `address`: each call of the returned
/// maker opens a Submit stream of its own and returns a round trip on it (sends `payload`, waits
/// for the reply; throws when the stream fails or the reply is not the job's).
std::function<std::function<void()>()> relay_clients(const std::string& address,
                                                     const std::string& payload);

}  // namespace bench
