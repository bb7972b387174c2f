#include "channel_metrics.h"

#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace orch::channels {
namespace {

/// Send waits on MPSC channels: none while there is room, up to a full channel's timeout.
const prometheus::Histogram::BucketBoundaries kSendWaitBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
};

}  // namespace

ChannelMetrics::ChannelMetrics(prometheus::Registry& registry)
    : depth_(prometheus::BuildGauge()
                 .Name("orch_channel_depth")
                 .Help("Messages a channel holds for receivers: MPSC queued or being handed "
                       "over, BROADCAST kept for subscribers that have not read them.")
                 .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("orch_channel_in_flight")
                     .Help("MPSC at-least-once deliveries not acknowledged yet.")
                     .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("orch_channel_messages_sent_total")
                .Help("Messages accepted by a channel (WATCH: values set).")
                .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name("orch_channel_messages_received_total")
                    .Help("Deliveries that reached a receiver or subscriber, redeliveries "
                          "included.")
                    .Register(registry)),
      dropped_(prometheus::BuildCounter()
                   .Name("orch_channel_messages_dropped_total")
                   .Help("Messages discarded unread: BROADCAST sent without subscribers or "
                         "overwritten before every subscriber read them.")
                   .Register(registry)),
      lagged_(prometheus::BuildCounter()
                  .Name("orch_channel_lagged_messages_total")
                  .Help("Messages BROADCAST subscribers skipped because they fell behind "
                        "(the sum of their Lagged events).")
                  .Register(registry)),
      send_wait_(prometheus::BuildHistogram()
                     .Name("orch_channel_send_wait_seconds")
                     .Help("Time MPSC sends waited for room, per Send call or send node.")
                     .Register(registry)) {}

prometheus::Histogram& ChannelMetrics::add_tenant(const std::string& tenant) {
  if (auto it = tenants_.find(tenant); it != tenants_.end()) return *it->second;
  auto& histogram = send_wait_.Add({{"tenant", tenant}}, kSendWaitBuckets);
  tenants_.emplace(tenant, &histogram);
  return histogram;
}

ChannelMetrics::Series ChannelMetrics::add(const std::string& tenant, const std::string& channel) {
  const prometheus::Labels labels{{"tenant", tenant}, {"channel", channel}};
  return Series{&depth_.Add(labels),    &in_flight_.Add(labels), &sent_.Add(labels),
                &received_.Add(labels), &dropped_.Add(labels),   &lagged_.Add(labels)};
}

void ChannelMetrics::remove(const Series& series) {
  depth_.Remove(series.depth);
  in_flight_.Remove(series.in_flight);
  sent_.Remove(series.sent);
  received_.Remove(series.received);
  dropped_.Remove(series.dropped);
  lagged_.Remove(series.lagged);
}

}  // namespace orch::channels
