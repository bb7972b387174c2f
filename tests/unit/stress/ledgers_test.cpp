// The stress test's ledgers (tests/stress/ledgers.h): each check finds what it must find, so a
// clean stress run means something.
#include "ledgers.h"

#include <gtest/gtest.h>

namespace orch::stress {
namespace {

namespace v1 = orch::v1;

v1::TaskInfo task(const std::string& id, v1::TaskState state, const std::string& error = {}) {
  v1::TaskInfo t;
  t.set_id(id);
  t.set_state(state);
  t.mutable_result()->set_state(state);
  t.mutable_result()->set_error(error);
  return t;
}

v1::ChannelMessage message(const std::string& payload, std::uint64_t sequence,
                           std::uint32_t delivery_count = 1) {
  v1::ChannelMessage m;
  m.set_payload(payload);
  m.set_sequence(sequence);
  m.set_delivery_count(delivery_count);
  return m;
}

TEST(StressTaskLedger, AnAcknowledgedTaskNeverSeenTerminalIsLost) {
  Findings findings;
  TaskLedger ledger(findings, nullptr);
  ledger.acked("a", Expect::kSucceeded);
  ledger.acked("b", Expect::kSucceeded);
  ledger.observe(task("a", v1::TASK_STATE_RUNNING));  // not terminal: not an end
  ledger.observe(task("b", v1::TASK_STATE_SUCCEEDED));
  const auto r = ledger.resolve(false);
  EXPECT_EQ(r.terminal, 1u);
  EXPECT_EQ(r.lost, 1u);
  EXPECT_EQ(findings.count("lost_task"), 1u);
}

TEST(StressTaskLedger, AnEndSeenBeforeTheAckCountsAndAWrongOutcomeIsFound) {
  Findings findings;
  TaskLedger ledger(findings, nullptr);
  ledger.observe(task("a", v1::TASK_STATE_SUCCEEDED));  // a tenant-wide Watch was faster
  ledger.acked("a", Expect::kSucceeded);
  ledger.observe(task("b", v1::TASK_STATE_FAILED));
  ledger.acked("b", Expect::kSucceeded);
  EXPECT_EQ(ledger.resolve(false).terminal, 2u);
  EXPECT_EQ(findings.count("wrong_outcome"), 1u);
  EXPECT_EQ(findings.total(), 1u);
}

TEST(StressTaskLedger, ATerminalStateThatChangesIsFound) {
  Findings findings;
  TaskLedger ledger(findings, nullptr);
  ledger.acked("a", Expect::kCancelled);
  ledger.observe(task("a", v1::TASK_STATE_CANCELLED));
  ledger.observe(task("a", v1::TASK_STATE_CANCELLED));
  EXPECT_EQ(findings.total(), 0u);
  ledger.observe(task("a", v1::TASK_STATE_SUCCEEDED));
  EXPECT_EQ(findings.count("task_state_changed"), 1u);
}

TEST(StressTaskLedger, ShutdownAllowsOnlyTheShutdownsCancellation) {
  Findings findings;
  TaskLedger ledger(findings, nullptr);
  ledger.acked("a", Expect::kShutdown);
  ledger.acked("b", Expect::kShutdown);
  ledger.acked("c", Expect::kShutdown);
  ledger.observe(task("a", v1::TASK_STATE_CANCELLED, "cancelled: orchestrd is shutting down"));
  ledger.observe(task("b", v1::TASK_STATE_CANCELLED, "cancelled: aborted by request"));
  ledger.observe(task("c", v1::TASK_STATE_SUCCEEDED));
  EXPECT_EQ(findings.count("wrong_outcome"), 1u);
}

TEST(StressTaskLedger, UnavailableIsAcceptedOnlyForACallBegunAfterSigterm) {
  Findings findings;
  TaskLedger ledger(findings, nullptr);
  ledger.acked("late", Expect::kShutdown);
  ledger.acked("early", Expect::kShutdown);
  ledger.call_failed("late", 14, "closed", true);
  ledger.call_failed("early", 14, "closed", false);
  const auto r = ledger.resolve(true);
  EXPECT_EQ(r.unavailable_after_sigterm, 1u);
  EXPECT_EQ(r.lost, 1u);
  EXPECT_EQ(findings.count("lost_task"), 1u);
}

TEST(StressMpscLedger, AtLeastOnceWantsExactlyOneAckPerAcceptedMessage) {
  Findings findings;
  MpscLedger ledger("alo", true, findings);
  ledger.sent({"p1", "p2", "p3"}, 2, 10);  // p3 was not accepted
  ledger.sent_unknown({"u1"});
  ledger.delivered(message("p1", 10));
  ledger.delivered(message("p1", 10, 2));  // redelivered after a consumer died
  ledger.acked("p1");
  ledger.delivered(message("u1", 12));
  ledger.acked("u1");
  auto s = ledger.check();
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.redeliveries, 1u);
  EXPECT_EQ(s.missing, 1u);  // p2
  EXPECT_EQ(findings.count("lost_message"), 1u);

  Findings twice;
  MpscLedger again("alo", true, twice);
  again.sent({"p1"}, 1, 1);
  again.acked("p1");
  again.acked("p1");
  again.check();
  EXPECT_EQ(twice.count("duplicate_message"), 1u);
}

TEST(StressMpscLedger, AtMostOnceAllowsOnlyWhatCancelledReceiversCouldCarry) {
  Findings findings;
  MpscLedger ledger("amo", false, findings);
  ledger.sent({"a", "b", "c"}, 3, 1);
  ledger.delivered(message("a", 1));
  ledger.may_have_lost(1);
  ledger.check();  // b and c missing, one allowed
  EXPECT_EQ(findings.count("lost_message"), 1u);

  Findings ok;
  MpscLedger allowed("amo", false, ok);
  allowed.sent({"a", "b"}, 2, 1);
  allowed.delivered(message("a", 1));
  allowed.may_have_lost(2);
  EXPECT_EQ(allowed.check().missing, 1u);
  EXPECT_EQ(ok.total(), 0u);

  Findings dup;
  MpscLedger twice("amo", false, dup);
  twice.sent({"a"}, 1, 1);
  twice.delivered(message("a", 1));
  twice.delivered(message("a", 1));
  twice.check();
  EXPECT_EQ(dup.count("duplicate_message"), 1u);
}

TEST(StressMpscLedger, ADeliveryNobodySentOrAtTheWrongSequenceIsFound) {
  Findings findings;
  MpscLedger ledger("alo", true, findings);
  ledger.sent({"a"}, 1, 5);
  ledger.delivered(message("a", 6));
  ledger.acked("a");
  ledger.delivered(message("ghost", 7));
  ledger.check();
  EXPECT_EQ(findings.count("sequence_mismatch"), 1u);
  EXPECT_EQ(findings.count("phantom_message"), 1u);
}

TEST(StressPipeLedger, EverySentMessageIsTakenExactlyOnce) {
  Findings findings;
  PipeLedger pipe(findings);
  TaskLedger tasks(findings, &pipe);
  tasks.acked("s1", Expect::kPipeSend, "m1");
  tasks.acked("s2", Expect::kPipeSend, "m2");
  tasks.acked("r1", Expect::kPipeRecv);
  tasks.acked("r2", Expect::kPipeRecv);
  tasks.observe(task("s1", v1::TASK_STATE_SUCCEEDED));
  tasks.observe(task("s2", v1::TASK_STATE_SUCCEEDED));
  auto r1 = task("r1", v1::TASK_STATE_SUCCEEDED);
  r1.mutable_result()->mutable_timeout()->mutable_child()->mutable_recv()->set_payload("m1");
  tasks.observe(r1);
  tasks.observe(task("r2", v1::TASK_STATE_TIMED_OUT));
  pipe.received("m1", "drain");  // taken twice
  const auto s = pipe.check();
  EXPECT_EQ(s.missing, 1u);     // m2
  EXPECT_EQ(s.duplicates, 1u);  // m1
  EXPECT_EQ(findings.count("lost_message"), 1u);
  EXPECT_EQ(findings.count("duplicate_message"), 1u);
}

TEST(StressBroadcastCheck, AGapIsFineOnlyWhenLaggedCountedIt) {
  BroadcastCheck check;
  std::string problem;
  EXPECT_TRUE(check.message(5, problem));  // the stream starts here
  EXPECT_TRUE(check.message(6, problem));
  check.lagged(3);
  EXPECT_TRUE(check.message(10, problem));
  EXPECT_EQ(check.lagged_total(), 3u);
  EXPECT_FALSE(check.message(12, problem));  // 11 vanished
  EXPECT_NE(problem.find("expected sequence 11"), std::string::npos) << problem;
  check.lagged(2);
  EXPECT_EQ(check.complete_up_to(), 14u);
}

TEST(StressWatchLedger, AValueReadMustBeTheOneSentWithItsVersion) {
  Findings findings;
  WatchLedger ledger(findings);
  ledger.sent(1, "w0");
  ledger.sent(2, "x");
  ledger.seen(1, "w0");
  ledger.seen(2, "y");
  ledger.seen(3, "z");
  EXPECT_EQ(ledger.check(), 3u);
  EXPECT_EQ(findings.count("watch_wrong_value"), 1u);
  EXPECT_EQ(findings.count("phantom_message"), 1u);
}

}  // namespace
}  // namespace orch::stress
