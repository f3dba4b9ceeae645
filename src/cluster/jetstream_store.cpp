#include "cluster/jetstream_store.h"

#include "base/logger.h"
#include "log/event_log.h"
#include "cluster/partition.h"
#include "log/record_parser.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace sluice::cluster {

namespace {

constexpr logger k_log("jetstream");
constexpr const char* k_msg_id = "Nats-Msg-Id";
constexpr const char* k_expected_seq = "Nats-Expected-Last-Sequence";
constexpr const char* k_expected_id = "Nats-Expected-Last-Msg-Id";

log::error nats_error(std::string_view what, natsStatus s, jsErrCode code = static_cast<jsErrCode>(0)) {
  return {log::errc::io_error,
          fmt::format("{}: {} (JetStream error {})", what, natsStatus_GetText(s), static_cast<int>(code))};
}

uint64_t header_u64(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v)
    return 0;
  uint64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v)
    return {};
  return v;
}

/// What a stream message says of the records it holds (none for a message
/// some other publisher put on the subject).
struct message_span {
  uint64_t first = 0, count = 0;
  uint64_t last() const { return first + count - 1; }
};

message_span span_of(natsMsg* m) { return {header_u64(m, k_header_first), header_u64(m, k_header_count)}; }

/// The counter at the end of a message id ("node.incarnation.counter").
uint64_t id_counter(std::string_view id) {
  uint64_t n = 0;
  auto dot = id.rfind('.');
  if (dot != std::string_view::npos)
    std::from_chars(id.data() + dot + 1, id.data() + id.size(), n);
  return n;
}

struct pending_group {
  std::string id; ///< empty for an empty batch
  log::append_result positions;
  log::append_callback done;
  std::optional<log::error> failure;
  bool stored = false; ///< read back by the follower
  std::chrono::steady_clock::time_point sent;
  bool ready() const { return stored || failure || id.empty(); }
};

} // namespace

struct jetstream_store::impl {
  jetstream_options opts;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  std::unique_ptr<log::event_log> mirror;
  std::string id_prefix;

  mutable std::mutex mu;
  std::deque<pending_group> pending;
  uint64_t counter = 0;
  uint64_t applied_seq = 0;     ///< stream sequence of the mirror's last message
  uint64_t expect_seq = 0;      ///< the last sequence the next publish expects
  uint64_t next_position = 1;   ///< of the next group
  std::string last_inflight_id; ///< of the newest group in flight
  bool poisoned = false;        ///< a failure is settling: appends refused
  bool closed = false;
  std::vector<std::pair<uint64_t, natsMsg*>> retry; ///< groups to publish again, by counter
  std::vector<bool> owned;                          ///< by partition: this writer's (opts.partitions > 0)
  std::vector<partition_owner> owners;              ///< by partition: its writer as the stream says
  std::map<std::string, std::chrono::system_clock::time_point, std::less<>> seen; ///< writer → its last message
  uint64_t owner_changes = 0;
  std::atomic<uint64_t> revoked{0};
  std::chrono::steady_clock::time_point retry_at;

  std::function<void(log::append_result)> on_foreign;
  std::optional<log::append_result> foreign; ///< records of another writer apply() just stored

  std::atomic<bool> failed{false}, stop{false}, nats_closed{false};
  std::atomic<uint64_t> fenced{0}, syncs{0}, appended{0};
  duration_histogram durations;
  std::thread follower;
  std::mutex closed_mu;
  std::condition_variable closed_cv;

  ~impl() {
    disconnect();
    for (auto& [n, m] : retry)
      natsMsg_Destroy(m);
    if (sub)
      natsSubscription_Destroy(sub);
    if (js)
      jsCtx_Destroy(js);
    if (nc)
      natsConnection_Destroy(nc);
  }

  std::expected<void, log::error> connect();
  void disconnect();
  std::expected<jsStreamState, log::error> ensure_stream();
  std::expected<uint64_t, log::error> sequence_after(uint64_t position, const jsStreamState& st);
  std::expected<void, log::error> subscribe(uint64_t start_seq);
  std::expected<void, log::error> apply(natsMsg* m);
  void follow();
  void settle();
  void on_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  void publish_again();
  std::optional<log::error> refusal(const log::write_batch* batch);
  void publish(pending_group g, std::string_view bytes, size_t count, const std::string& claim);
  struct writer_at {
    std::string_view node;
    std::chrono::system_clock::time_point at; ///< when the stream stored its message
  };
  void take_over(std::string_view claim, writer_at writer, const log::write_batch& batch, bool ours);
};

namespace {

void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  static_cast<jetstream_store::impl*>(closure)->on_ack(msg, pa, pae);
}

void closed_handler(natsConnection*, void* closure) {
  auto* p = static_cast<jetstream_store::impl*>(closure);
  std::lock_guard lk(p->closed_mu);
  p->nats_closed = true;
  p->closed_cv.notify_all();
}

} // namespace

std::expected<void, log::error> jetstream_store::impl::connect() {
  natsOptions* no = nullptr;
  if (auto s = natsOptions_Create(&no); s != NATS_OK)
    return std::unexpected(nats_error("nats options", s));
  std::vector<const char*> urls;
  urls.reserve(opts.servers.size());
  for (auto& u : opts.servers)
    urls.push_back(u.c_str());
  natsOptions_SetServers(no, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(no, opts.node.c_str());
  natsOptions_SetMaxReconnect(no, -1); // a cluster comes back; the node waits for it
  natsOptions_SetReconnectWait(no, 100);
  natsOptions_SetClosedCB(no, closed_handler, this);
  auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
  natsStatus s;
  while ((s = natsConnection_Connect(&nc, no)) != NATS_OK && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  natsOptions_Destroy(no);
  if (s != NATS_OK)
    return std::unexpected(nats_error("connecting to the NATS servers", s));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000; // per request; open() tries again until connect_timeout
  jo.PublishAsync.AckHandler = ack_handler;
  jo.PublishAsync.AckHandlerClosure = this;
  // Groups in flight are bounded by the engine; a stall here would hold
  // the publish lock against the acknowledgements that end it.
  jo.PublishAsync.MaxPending = 1 << 20;
  if (s = natsConnection_JetStream(&js, nc, &jo); s != NATS_OK)
    return std::unexpected(nats_error("JetStream context", s));
  return {};
}

// Every path out, the failed open() too: the closed callback names `this`,
// so it must have run before the impl goes.
void jetstream_store::impl::disconnect() {
  if (nc == nullptr || nats_closed.load())
    return;
  natsConnection_Close(nc);
  std::unique_lock lk(closed_mu);
  closed_cv.wait_for(lk, std::chrono::seconds(5), [&] { return nats_closed.load(); });
}

std::expected<jsStreamState, log::error> jetstream_store::impl::ensure_stream() {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_GetStreamInfo(&si, js, opts.stream.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND) {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char* subjects[] = {opts.subject.c_str()};
    sc.Name = opts.stream.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = opts.replicas;
    uint32_t parts = opts.partitions ? opts.partitions : opts.new_stream_partitions;
    auto description = fmt::format("sluice events; partitions={}", parts);
    sc.Description = description.c_str();
    s = js_AddStream(&si, js, &sc, nullptr, &jerr);
    if (s == NATS_OK)
      k_log.info("created stream {} on {} ({} replicas)", opts.stream, opts.subject, opts.replicas);
  }
  if (s != NATS_OK)
    return std::unexpected(nats_error(fmt::format("stream {}", opts.stream), s, jerr));
  auto st = si->State;
  uint32_t theirs = 0;
  if (const char* d = si->Config->Description; d && std::strstr(d, "partitions="))
    theirs = static_cast<uint32_t>(std::strtoul(std::strstr(d, "partitions=") + 11, nullptr, 10));
  jsStreamInfo_Destroy(si);
  if (opts.partitions != 0 && opts.partitions != theirs)
    return std::unexpected(
        log::error{log::errc::invalid_argument, fmt::format("--partitions {} differs from the cluster's {} (stream {})",
                                                            opts.partitions, theirs, opts.stream)});
  opts.partitions = theirs;
  return st;
}

// The sequence of the first message after the one ending at `position`,
// found by bisection over the stream (messages hold increasing positions).
std::expected<uint64_t, log::error> jetstream_store::impl::sequence_after(uint64_t position, const jsStreamState& st) {
  if (position == 0)
    return st.FirstSeq;
  uint64_t lo = st.FirstSeq, hi = st.LastSeq;
  while (lo <= hi && lo != 0) {
    uint64_t mid = lo + (hi - lo) / 2;
    natsMsg* m = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    // A message some other publisher put on the subject holds no records:
    // the nearest one after it decides.
    uint64_t probe = mid;
    message_span sp;
    for (; probe <= hi; ++probe) {
      if (auto s = js_GetMsg(&m, js, opts.stream.c_str(), probe, nullptr, &jerr); s != NATS_OK)
        return std::unexpected(nats_error(fmt::format("reading message {}", probe), s, jerr));
      sp = span_of(m);
      natsMsg_Destroy(m);
      if (sp.count > 0)
        break;
    }
    if (probe > hi || sp.first > position) {
      hi = mid - 1;
    } else if (sp.last() < position) {
      lo = probe + 1;
    } else if (sp.last() == position) {
      return probe + 1;
    } else {
      return std::unexpected(
          log::error{log::errc::corrupt,
                     fmt::format("the mirror ends at position {}, inside stream message {}", position, probe)});
    }
  }
  return std::unexpected(
      log::error{log::errc::corrupt, fmt::format("the mirror holds position {}, which stream {} does not (was the "
                                                 "stream deleted or purged?); remove the mirror to rebuild it",
                                                 position, opts.stream)});
}

std::expected<void, log::error> jetstream_store::impl::subscribe(uint64_t start_seq) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = opts.stream.c_str();
  so.Ordered = true; // the library resumes it after a gap or a lost server
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = start_seq == 0 ? 1 : start_seq;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (auto s = js_SubscribeSync(&sub, js, opts.subject.c_str(), nullptr, &so, &jerr); s != NATS_OK)
    return std::unexpected(nats_error("following the stream", s, jerr));
  natsSubscription_SetPendingLimits(sub, -1, 256 << 20);
  return {};
}

// Appends one stream message to the mirror and marks the group it is.
std::expected<void, log::error> jetstream_store::impl::apply(natsMsg* m) {
  jsMsgMetaData* meta = nullptr;
  if (auto s = natsMsg_GetMetaData(&meta, m); s != NATS_OK)
    return std::unexpected(nats_error("message metadata", s));
  uint64_t seq = meta->Sequence.Stream;
  auto stored_at = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(meta->Timestamp)));
  jsMsgMetaData_Destroy(meta);
  if (seq <= applied_seq)
    return {}; // delivered again after a reconnect
  auto sp = span_of(m);
  auto id = header(m, k_msg_id);
  log::write_batch batch;
  const char* p = natsMsg_GetData(m);
  size_t left = static_cast<size_t>(natsMsg_GetDataLength(m));
  for (uint64_t i = 0; i < sp.count; ++i) {
    auto r = log::parse_record(p, left);
    if (r.status != log::parse_status::ok || r.rec.position != sp.first + i || !batch.add(r.rec))
      return std::unexpected(
          log::error{log::errc::corrupt, fmt::format("stream message {}: record {} is damaged", seq, sp.first + i)});
    p += r.size;
    left -= r.size;
  }
  // The mirror shows the message and this writer's view moves past it at
  // once: an append that saw the one sees the other.
  std::lock_guard lk(mu);
  log::append_result at{mirror->last_position() + 1, mirror->last_position()};
  if (sp.count > 0) {
    if (sp.first != at.first)
      return std::unexpected(log::error{
          log::errc::corrupt,
          fmt::format("stream message {} starts at position {}, the mirror at {}", seq, sp.first, at.first)});
    auto stored = mirror->append_and_wait(batch);
    if (!stored)
      return std::unexpected(stored.error());
    at = *stored;
  }
  applied_seq = seq;
  bool ours = id.starts_with(id_prefix);
  auto writer = std::string_view(id).substr(0, std::string_view(id).find('.'));
  if (auto it = seen.find(writer); it != seen.end())
    it->second = stored_at;
  else if (!writer.empty())
    seen.emplace(std::string(writer), stored_at);
  for (auto& g : pending)
    if (ours && g.id == id) {
      g.stored = true;
      break;
    }
  if (opts.partitions > 0)
    take_over(header(m, k_header_claim), {writer, stored_at}, batch, ours);
  if (!ours && sp.count > 0)
    foreign = at;
  // Idle, a message (another writer's) moves this writer's view of the tail.
  if (pending.empty() && !poisoned) {
    expect_seq = seq;
    next_position = at.last + 1;
  }
  return {};
}

// Ownership moves in log order: a claim in the stream gives its writer the
// partitions it names and takes them from everyone else; records of a
// partition written by another writer take it too (no writer keeping the
// protocol writes a partition it has not claimed). Under the lock, before
// the writer's view passes the message: no group of this writer is
// published after the message without it being known here.
void jetstream_store::impl::take_over(std::string_view claim, writer_at writer, const log::write_batch& batch,
                                      bool ours) {
  auto set = [&](uint32_t part, bool mine) {
    if (part >= owned.size())
      return;
    if (owners[part].node != writer.node) {
      owners[part] = {std::string(writer.node), writer.at};
      ++owner_changes;
    }
    if (owned[part] == mine)
      return;
    owned[part] = mine;
    if (!mine) {
      revoked.fetch_add(1, std::memory_order_relaxed);
      k_log.info("partition {} now belongs to another writer", part);
    }
  };
  for (size_t at = 0; at < claim.size();) {
    auto comma = claim.find(',', at);
    auto item = claim.substr(at, comma == std::string_view::npos ? claim.size() - at : comma - at);
    uint32_t part = UINT32_MAX;
    std::from_chars(item.data(), item.data() + item.size(), part);
    set(part, ours);
    at = comma == std::string_view::npos ? claim.size() : comma + 1;
  }
  if (!ours)
    batch.each_aggregate_id([&](std::string_view agg) { set(partition_of(agg, opts.partitions), false); });
}

void jetstream_store::impl::on_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  if (pa || !pae) {
    natsMsg_Destroy(msg);
    return;
  }
  auto id = header(msg, k_msg_id);
  // No answer, no stream leader (an election), the cluster busy: the
  // outcome is unknown or nothing was done. Sent again with the same id,
  // the server answers a duplicate if the first copy was stored.
  bool again = pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS || pae->ErrCode == JSClusterNotAvailErr;
  bool is_fence = pae->ErrCode == JSStreamWrongLastSequenceErr || pae->ErrCode == JSStreamWrongLastMsgIDErr;
  std::lock_guard lk(mu);
  if (again && !stop.load()) {
    retry.emplace_back(id_counter(id), msg);
    return;
  }
  natsMsg_Destroy(msg);
  log::error e{is_fence ? log::errc::fenced : log::errc::io_error,
               fmt::format("stream {}: {}", opts.stream, pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err))};
  for (auto& g : pending)
    if (g.id == id && !g.stored) {
      g.failure = std::move(e);
      poisoned = true;
      if (is_fence)
        fenced.fetch_add(1, std::memory_order_relaxed);
      break;
    }
}

// Publishes again, in their order, the groups whose outcome is unknown,
// at most every 100 ms (an election takes a moment).
void jetstream_store::impl::publish_again() {
  std::vector<std::pair<uint64_t, natsMsg*>> msgs;
  {
    std::lock_guard lk(mu);
    auto now = std::chrono::steady_clock::now();
    if (retry.empty() || now < retry_at)
      return;
    retry_at = now + std::chrono::milliseconds(100);
    msgs.swap(retry);
  }
  std::sort(msgs.begin(), msgs.end());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = opts.publish_timeout.count();
  for (auto& [n, m] : msgs) {
    if (auto s = js_PublishMsgAsync(js, &m, &po); s != NATS_OK) {
      std::lock_guard lk(mu);
      retry.emplace_back(n, m); // not sent (disconnected): the next round
      continue;
    }
    natsMsg_Destroy(m);
  }
}

// Runs the completions of the groups at the front that are settled, in
// append order, on the follower's thread only (so the order holds).
void jetstream_store::impl::settle() {
  std::vector<pending_group> ready;
  {
    std::lock_guard lk(mu);
    while (!pending.empty() && pending.front().ready()) {
      ready.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    if (pending.empty())
      last_inflight_id.clear(); // nothing of ours in flight: the tail may be anyone's
    if (pending.empty() && poisoned) {
      // Everything decided on top of the failure has failed too: start
      // again from the stream as this node has read it.
      poisoned = false;
      expect_seq = applied_seq;
      next_position = mirror->last_position() + 1;
      last_inflight_id.clear();
    }
  }
  auto now = std::chrono::steady_clock::now();
  for (auto& g : ready) {
    if (g.failure) {
      g.done(std::unexpected(std::move(*g.failure)));
      continue;
    }
    if (!g.id.empty()) {
      syncs.fetch_add(1, std::memory_order_relaxed);
      appended.fetch_add(g.positions.last + 1 - g.positions.first, std::memory_order_relaxed);
      durations.observe(static_cast<uint64_t>(std::chrono::nanoseconds(now - g.sent).count()));
    }
    g.done(g.positions);
  }
}

void jetstream_store::impl::follow() {
  while (!stop.load()) {
    natsMsg* m = nullptr;
    auto s = natsSubscription_NextMsg(&m, sub, 20);
    if (s == NATS_OK) {
      if (opts.before_apply)
        opts.before_apply();
      auto r = apply(m);
      natsMsg_Destroy(m);
      if (auto at = std::exchange(foreign, std::nullopt)) {
        std::function<void(log::append_result)> tell;
        {
          std::lock_guard lk(mu);
          tell = on_foreign;
        }
        if (tell) {
          settle(); // this writer's groups stored before them are told first: position order
          tell(*at);
        }
      }
      if (!r) {
        k_log.error("{}", r.error().message);
        failed = true;
        std::lock_guard lk(mu);
        for (auto& g : pending)
          if (!g.ready())
            g.failure = r.error();
      }
    } else if (s != NATS_TIMEOUT && !stop.load()) {
      k_log.warn("following stream {}: {}", opts.stream, natsStatus_GetText(s));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    publish_again();
    settle();
  }
}

std::expected<std::unique_ptr<jetstream_store>, log::error> jetstream_store::open(const jetstream_options& opts) {
  auto p = std::make_unique<impl>();
  p->opts = opts;
  std::random_device rd;
  // Message ids name the writer's incarnation, so a restarted node never
  // reuses an id the dedupe window still holds.
  p->id_prefix = fmt::format("{}.{:016x}.", opts.node, (uint64_t{rd()} << 32) | rd());
  if (auto r = p->connect(); !r)
    return std::unexpected(r.error());
  // A cluster just started has no JetStream meta leader for a few seconds.
  auto st = p->ensure_stream();
  for (auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
       !st && st.error().code != log::errc::invalid_argument && std::chrono::steady_clock::now() < deadline;
       st = p->ensure_stream())
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  if (!st)
    return std::unexpected(st.error());
  p->owned.assign(p->opts.partitions, false);
  p->owners.assign(p->opts.partitions, {});
  log::options lo;
  lo.dir = opts.mirror_dir;
  lo.mode = log::durability::none; // the stream is the record; the mirror is rebuilt from it
  lo.segment_bytes = opts.mirror_segment_bytes;
  lo.upcaster = opts.upcaster;
  auto mirror = log::event_log::open(lo);
  if (!mirror)
    return std::unexpected(mirror.error());
  p->mirror = std::move(*mirror);
  if (opts.on_segment_closed)
    p->mirror->on_segment_closed(opts.on_segment_closed);
  uint64_t start = 0;
  if (st->LastSeq > 0) {
    auto after = p->sequence_after(p->mirror->last_position(), *st);
    if (!after)
      return std::unexpected(after.error());
    start = *after;
  } else if (p->mirror->last_position() > 0) {
    return std::unexpected(
        log::error{log::errc::corrupt, fmt::format("stream {} is empty but the mirror in {} is not; remove the mirror",
                                                   opts.stream, opts.mirror_dir.string())});
  }
  p->applied_seq = start == 0 ? 0 : start - 1;
  // Creating the consumer asks the stream's leader, which an election or a
  // server just back may hold up for a moment.
  auto subscribed = p->subscribe(start);
  for (auto deadline = std::chrono::steady_clock::now() + opts.connect_timeout;
       !subscribed && std::chrono::steady_clock::now() < deadline; subscribed = p->subscribe(start))
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  if (!subscribed)
    return std::unexpected(subscribed.error());
  // Caught up with the stream as it was at open before taking appends.
  while (p->applied_seq < st->LastSeq) {
    natsMsg* m = nullptr;
    auto s = natsSubscription_NextMsg(&m, p->sub, static_cast<int64_t>(opts.connect_timeout.count()));
    if (s != NATS_OK)
      return std::unexpected(nats_error("catching up with the stream", s));
    auto r = p->apply(m);
    natsMsg_Destroy(m);
    if (!r)
      return std::unexpected(r.error());
    p->foreign.reset(); // what open() read is what recovery reads
  }
  p->expect_seq = p->applied_seq;
  p->next_position = p->mirror->last_position() + 1;
  auto* raw = p.get();
  p->follower = std::thread([raw] { raw->follow(); });
  return std::unique_ptr<jetstream_store>(new jetstream_store(std::move(p)));
}

jetstream_store::jetstream_store(std::unique_ptr<impl> p) : p_(std::move(p)) {}

jetstream_store::~jetstream_store() { close(); }

size_t jetstream_store::max_group_bytes() const {
  // Headers count toward the servers' max_payload; ours stay well under this.
  constexpr int64_t k_header_room = 1024;
  return static_cast<size_t>(std::max<int64_t>(natsConnection_GetMaxPayload(p_->nc) - k_header_room, 0));
}

void jetstream_store::append(log::write_batch batch, log::append_callback done) {
  auto& p = *p_;
  if (batch.bytes() > max_group_bytes()) {
    done(std::unexpected(
        log::error{log::errc::invalid_argument,
                   fmt::format("a group of {} bytes is larger than the NATS servers' max_payload allows ({} bytes)",
                               batch.bytes(), max_group_bytes())}));
    return;
  }
  std::unique_lock lk(p.mu);
  if (auto refused = p.refusal(&batch)) {
    lk.unlock();
    done(std::unexpected(std::move(*refused)));
    return;
  }
  pending_group g;
  g.positions = {p.next_position, p.next_position + batch.count() - 1};
  g.done = std::move(done);
  if (batch.empty()) {
    p.pending.push_back(std::move(g));
    return;
  }
  auto bytes = batch.stamp(g.positions.first);
  p.publish(std::move(g), bytes, batch.count(), {});
}

std::expected<void, log::error> jetstream_store::claim(const std::vector<uint32_t>& partitions) {
  auto& p = *p_;
  std::string list;
  for (auto part : partitions) {
    if (part >= p.opts.partitions)
      return std::unexpected(
          log::error{log::errc::invalid_argument, fmt::format("partition {} of {}", part, p.opts.partitions)});
    list += fmt::format("{}{}", list.empty() ? "" : ",", part);
  }
  std::promise<std::expected<log::append_result, log::error>> outcome;
  auto f = outcome.get_future();
  {
    std::unique_lock lk(p.mu);
    if (auto refused = p.refusal(nullptr)) {
      lk.unlock();
      return std::unexpected(std::move(*refused));
    }
    pending_group g;
    g.positions = {p.next_position, p.next_position - 1};
    g.done = [&outcome](std::expected<log::append_result, log::error> r) { outcome.set_value(std::move(r)); };
    p.publish(std::move(g), {}, 0, list);
  }
  if (auto r = f.get(); !r)
    return std::unexpected(r.error());
  return {};
}

// Why an append must be refused at once, if it must; `batch` null for a
// claim. Called under the lock.
std::optional<log::error> jetstream_store::impl::refusal(const log::write_batch* batch) {
  if (closed || failed || poisoned) {
    auto code = closed ? log::errc::closed : failed ? log::errc::failed : log::errc::fenced;
    if (code == log::errc::fenced)
      fenced.fetch_add(1, std::memory_order_relaxed);
    return log::error{code, fmt::format("stream {}: {}", opts.stream,
                                        code == log::errc::fenced ? "an earlier group was fenced; decided on top of it"
                                                                  : log::to_string(code))};
  }
  if (!batch || opts.partitions == 0)
    return std::nullopt;
  std::optional<uint32_t> not_ours;
  batch->each_aggregate_id([&](std::string_view id) {
    auto part = partition_of(id, opts.partitions);
    if (!owned[part])
      not_ours = part;
  });
  if (!not_ours)
    return std::nullopt;
  fenced.fetch_add(1, std::memory_order_relaxed);
  return log::error{log::errc::fenced, fmt::format("partition {} is not this node's", *not_ours)};
}

// Publishes one message: a group's records, or a claim (no records). Under
// the lock, so that the server sees the messages in the order of `pending`.
void jetstream_store::impl::publish(pending_group g, std::string_view bytes, size_t count, const std::string& claim) {
  g.id = id_prefix + std::to_string(++counter);
  g.sent = std::chrono::steady_clock::now();
  natsMsg* m = nullptr;
  natsMsg_Create(&m, opts.subject.c_str(), nullptr, bytes.data(), static_cast<int>(bytes.size()));
  auto expect = std::to_string(expect_seq);
  natsMsgHeader_Set(m, k_msg_id, g.id.c_str());
  natsMsgHeader_Set(m, k_expected_seq, expect.c_str());
  if (!last_inflight_id.empty())
    natsMsgHeader_Set(m, k_expected_id, last_inflight_id.c_str());
  if (count > 0) {
    natsMsgHeader_Set(m, k_header_first, std::to_string(g.positions.first).c_str());
    natsMsgHeader_Set(m, k_header_count, std::to_string(count).c_str());
  }
  if (!claim.empty())
    natsMsgHeader_Set(m, k_header_claim, claim.c_str());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = opts.publish_timeout.count();
  auto s = js_PublishMsgAsync(js, &m, &po);
  natsMsg_Destroy(m);
  if (s != NATS_OK) {
    g.failure = nats_error(fmt::format("publishing to stream {}", opts.stream), s);
    poisoned = true;
  } else {
    ++expect_seq;
    next_position = g.positions.last + 1;
    last_inflight_id = g.id;
  }
  pending.push_back(std::move(g));
}

uint32_t jetstream_store::partition_count() const { return p_->opts.partitions; }

bool jetstream_store::owns(uint32_t partition) const {
  std::lock_guard lk(p_->mu);
  return partition < p_->owned.size() && p_->owned[partition];
}

std::vector<uint32_t> jetstream_store::owned_partitions() const {
  std::lock_guard lk(p_->mu);
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < p_->owned.size(); ++i)
    if (p_->owned[i])
      out.push_back(i);
  return out;
}

std::expected<uint64_t, log::error> jetstream_store::read(uint64_t from, size_t max_records,
                                                          const std::function<bool(const log::record&)>& visit) const {
  return p_->mirror->read(from, max_records, visit);
}

uint64_t jetstream_store::last_position() const { return p_->mirror->last_position(); }
uint64_t jetstream_store::first_position() const { return p_->mirror->first_position(); }
std::vector<log::segment_info> jetstream_store::segments() const { return p_->mirror->segments(); }

std::expected<uint64_t, log::error> jetstream_store::delete_before(uint64_t base) {
  auto& p = *p_;
  auto units = p.mirror->segments();
  bool is_base = false;
  for (size_t i = 1; i + 1 < units.size(); ++i)
    is_base |= units[i].base == base;
  if (!is_base)
    return 0;
  auto st = p.ensure_stream();
  if (!st)
    return std::unexpected(st.error());
  auto seq = p.sequence_after(base - 1, *st);
  if (!seq)
    return std::unexpected(seq.error());
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Sequence = *seq; // keeps `seq` and after
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (auto s = js_PurgeStream(p.js, p.opts.stream.c_str(), &o, &jerr); s != NATS_OK)
    return std::unexpected(nats_error("purging the stream", s, jerr));
  return p.mirror->delete_before(base);
}

void jetstream_store::on_segment_closed(std::function<void()> f) { p_->mirror->on_segment_closed(std::move(f)); }

void jetstream_store::on_foreign(std::function<void(log::append_result)> f) {
  std::lock_guard lk(p_->mu);
  p_->on_foreign = std::move(f);
}

void jetstream_store::close() {
  auto& p = *p_;
  {
    std::lock_guard lk(p.mu);
    if (p.closed)
      return;
    p.closed = true;
  }
  // What is in flight settles first, for as long as a publish may take.
  auto deadline = std::chrono::steady_clock::now() + 2 * p.opts.publish_timeout;
  for (;;) {
    {
      std::lock_guard lk(p.mu);
      if (p.pending.empty() || std::chrono::steady_clock::now() > deadline)
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  p.stop = true;
  if (p.follower.joinable())
    p.follower.join();
  {
    std::lock_guard lk(p.mu);
    for (auto& g : p.pending)
      if (!g.ready())
        g.failure = log::error{log::errc::closed, "the store closed before the stream answered"};
  }
  p.settle();
  p.disconnect();
  p.mirror->close();
}

bool jetstream_store::failed() const { return p_->failed.load(); }
uint64_t jetstream_store::syncs() const { return p_->syncs.load(std::memory_order_relaxed); }
uint64_t jetstream_store::appended_records() const { return p_->appended.load(std::memory_order_relaxed); }
const duration_histogram& jetstream_store::sync_durations() const { return p_->durations; }
uint64_t jetstream_store::fenced() const { return p_->fenced.load(std::memory_order_relaxed); }

std::vector<partition_owner> jetstream_store::owners() const {
  std::lock_guard lk(p_->mu);
  return p_->owners;
}

std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> jetstream_store::writers() const {
  std::lock_guard lk(p_->mu);
  return {p_->seen.begin(), p_->seen.end()};
}

uint64_t jetstream_store::owner_changes() const {
  std::lock_guard lk(p_->mu);
  return p_->owner_changes;
}

std::expected<stream_status, log::error> jetstream_store::status() const {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (auto s = js_GetStreamInfo(&si, p_->js, p_->opts.stream.c_str(), nullptr, &jerr); s != NATS_OK)
    return std::unexpected(nats_error(fmt::format("stream {}", p_->opts.stream), s, jerr));
  stream_status out;
  out.first_sequence = si->State.FirstSeq;
  out.last_sequence = si->State.LastSeq;
  out.messages = si->State.Msgs;
  out.bytes = si->State.Bytes;
  out.replicas = static_cast<int>(si->Config->Replicas);
  if (si->Cluster) {
    if (si->Cluster->Leader) {
      out.leader = si->Cluster->Leader;
      out.current = 1;
    }
    for (int i = 0; i < si->Cluster->ReplicasLen; ++i)
      out.current += si->Cluster->Replicas[i]->Current ? 1 : 0;
  }
  jsStreamInfo_Destroy(si);
  return out;
}

uint64_t jetstream_store::last_sequence() const {
  std::lock_guard lk(p_->mu);
  return p_->applied_seq;
}

} // namespace sluice::cluster
