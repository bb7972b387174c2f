#pragma once
// Channels internals: the channel metric families and one channel's series.
//
// Series are labelled {tenant, channel}: their number is bounded by the tenants' max_channels,
// and a channel's series are removed when it is deleted. Send waits are a per-tenant histogram.
//
// Thread-safety: add_tenant at start-up; add/remove from any thread (prometheus-cpp families
// lock themselves). A Series' handles are used under their channel's mutex only, and removed
// under it, so no handle is used after its removal.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace orch::channels {

class ChannelMetrics {
 public:
  /// One channel's children of the per-channel families.
  struct Series {
    prometheus::Gauge* depth = nullptr;
    prometheus::Gauge* in_flight = nullptr;
    prometheus::Counter* sent = nullptr;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* dropped = nullptr;
    prometheus::Counter* lagged = nullptr;
  };

  /// Builds the families on `registry` (once per registry).
  explicit ChannelMetrics(prometheus::Registry& registry);

  /// orch_channel_send_wait_seconds{tenant}; its handle stays valid for this object's lifetime.
  prometheus::Histogram& add_tenant(const std::string& tenant);
  Series add(const std::string& tenant, const std::string& channel);
  void remove(const Series& series);

 private:
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Counter>& lagged_;
  prometheus::Family<prometheus::Histogram>& send_wait_;
  std::map<std::string, prometheus::Histogram*> tenants_;
};

}  // namespace orch::channels
