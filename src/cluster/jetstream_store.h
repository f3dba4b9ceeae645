// The database of record of a cluster (SPEC §14): a log::store on one NATS
// JetStream stream, replicated on its servers.
//
// Architecture: each group is one message of the stream (a command's
// events never split), so replication costs one round trip per group. The
// message carries the group's records in the local log's wire form, with
// their global positions and checksums (write_batch::stamp), and the
// headers below. A follower thread reads the stream in order and appends
// every message, this node's and any other writer's, to a local mirror (an
// event_log without fsync: the stream is the record, the mirror a cache
// that can be rebuilt from it); reads are served from the mirror, so a
// group is readable on this node once its completion runs.
//
// Fencing: every message is published with `Nats-Expected-Last-Sequence`,
// the stream sequence this writer believes is the last, and, when the
// previous message of the same writer is still in flight,
// `Nats-Expected-Last-Msg-Id` naming it. The server checks both when it
// applies the message, in log order, on every replica (nats-server 2.9.10
// `processJetStreamMsg`; unlike the per-subject check, nats-server#4320).
// So a group lands only directly after what its writer saw: if anyone else
// appended in between, however long this writer was paused, the group and
// every later one in flight fail with errc::fenced and nothing of them is
// stored. The positions written in a message are therefore always right.
// docs/cluster.md states the argument in full.
//
// Durability: a completion runs once the follower has read the group back
// from the stream, which happens only after a quorum of the servers stored
// it (JetStream delivers committed messages only): in the page cache of a
// quorum (nats-server 2.9.10 fsyncs on a timer).
#pragma once

#include "log/store.h"

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::cluster {

/// Headers of a stream message besides NATS's own.
inline constexpr const char* k_header_first = "Sluice-First"; ///< position of its first record
inline constexpr const char* k_header_count = "Sluice-Count"; ///< records in it
/// On a claim (a message without records): the partitions its writer takes, "3,17,40".
inline constexpr const char* k_header_claim = "Sluice-Claim";

struct jetstream_options {
  std::vector<std::string> servers; ///< nats://host:port, any of the cluster's servers
  std::string stream = "SLUICE_EVENTS";
  std::string subject = "sluice.events";
  std::string node = "node"; ///< names this writer in its message ids
  int replicas = 3;          ///< when the stream is created here
  std::filesystem::path mirror_dir;
  uint64_t mirror_segment_bytes = 64ull << 20;
  /// How long a publish waits for the server's answer before it is sent
  /// again (same message id: the server answers a duplicate if the first
  /// one was stored).
  std::chrono::milliseconds publish_timeout{2000};
  /// How long open() waits for the servers.
  std::chrono::milliseconds connect_timeout{10000};
  const log::record_upcaster* upcaster = nullptr;
  /// Partitions of the aggregates (cluster/partition.h), fixed when the
  /// stream is created (its description records the count). 0: the
  /// stream's count, or `new_stream_partitions` for a new stream; no
  /// partitions at all means no ownership: any record is accepted.
  uint32_t partitions = 0;
  uint32_t new_stream_partitions = 0;
  /// store::on_segment_closed() from the start, for a store opened while
  /// others already use it (log::deferred_store).
  std::function<void()> on_segment_closed = {};
  /// For tests: called on the follower's thread before each message is
  /// applied, so that a test can hold this node's view of the stream back.
  std::function<void()> before_apply = {};
};

/// The stream as its servers see it (GET /v1/admin/cluster).
struct stream_status {
  uint64_t first_sequence = 0, last_sequence = 0, messages = 0, bytes = 0;
  int replicas = 0;   ///< configured
  std::string leader; ///< the server name of the stream's leader; empty during an election
  int current = 0;    ///< replicas, the leader included, that are current
};

/// Who writes a partition, as this node has read the stream: the writer of
/// the last claim of it or of its last records (empty: nobody yet).
struct partition_owner {
  std::string node;
  std::chrono::system_clock::time_point since; ///< when the stream stored that message
};

/// A store on a JetStream stream (store.h gives the contract; here, what is
/// particular to it). Thread-safe.
class jetstream_store final : public log::store {
 public:
  /// Connects, creates the stream when it is absent, opens the mirror and
  /// brings it up to the stream's last message before returning. Errors:
  /// io_error (servers unreachable, a JetStream call failed), corrupt (the
  /// mirror holds positions the stream does not, or a message is damaged),
  /// invalid_argument (`partitions` differs from the stream's).
  static std::expected<std::unique_ptr<jetstream_store>, log::error> open(const jetstream_options& opts);

  ~jetstream_store() override;

  /// Publishes at once (pipelined behind earlier groups); completes when
  /// the follower has read the group back, or fails with fenced when
  /// another writer appended first. With partitions, a group holding a
  /// record of a partition this writer does not own is refused at once
  /// (fenced). While an earlier group's failure is
  /// still settling, appends are refused at once with fenced: they would
  /// have been decided on top of it.
  void append(log::write_batch batch, log::append_callback done) override;
  /// The servers' max_payload less room for the headers.
  size_t max_group_bytes() const override;
  std::expected<uint64_t, log::error> read(uint64_t from, size_t max_records,
                                           const std::function<bool(const log::record&)>& visit) const override;
  uint64_t last_position() const override;
  uint64_t first_position() const override;
  /// The mirror's segments.
  std::vector<log::segment_info> segments() const override;
  /// Purges the stream's messages before the one holding `base` and removes
  /// the mirror's segments before it.
  std::expected<uint64_t, log::error> delete_before(uint64_t base) override;
  void on_segment_closed(std::function<void()> f) override;
  /// Runs on the follower's thread, after this writer's groups stored
  /// before them have completed.
  void on_foreign(std::function<void(log::append_result)> f) override;
  void close() override;
  bool failed() const override;
  /// Never: a full stream or lost servers make appends wait, not fail.
  bool unavailable() const override { return false; }
  bool resume(uint64_t) override { return true; }
  uint64_t syncs() const override;
  uint64_t appended_records() const override;
  const duration_histogram& sync_durations() const override;

  /// Ownership (partitions > 0): publishes a claim of `partitions` in the
  /// stream and waits for it. Once read back, this writer owns them and
  /// every other writer, reading the claim in log order, has let them go:
  /// their groups for these partitions are refused (at once once their
  /// follower has read the claim; by the fence while in flight). A claim is
  /// fenced like any group: it lands only on the tail this writer has read,
  /// so the writer's state includes everything before it. Errors: fenced,
  /// closed, failed, invalid_argument (a partition out of range).
  std::expected<void, log::error> claim(const std::vector<uint32_t>& partitions);
  bool owns(uint32_t partition) const;
  uint32_t partition_count() const;
  std::vector<uint32_t> owned_partitions() const;

  /// Groups refused because the stream's tail was not what they expected.
  uint64_t fenced() const;
  /// By partition.
  std::vector<partition_owner> owners() const;
  /// Every writer whose message this node has read, with when the stream
  /// stored its last one.
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> writers() const;
  /// Changes of a partition's writer this node has read (claims included).
  uint64_t owner_changes() const;
  /// Asks the servers (a request: not for hot paths). Errors: io_error.
  std::expected<stream_status, log::error> status() const;
  /// The stream sequence of the last message the mirror holds.
  uint64_t last_sequence() const;

  struct impl;

 private:
  explicit jetstream_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> p_;
};

} // namespace sluice::cluster
