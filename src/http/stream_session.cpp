#include "http/stream_session.h"
#include "http/prometheus.h"

#include "base/logger.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "domain/number_range.h"
#include "engine/event_feed.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <deque>
#include <map>

namespace sluice::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

constexpr logger k_log("stream");
constexpr size_t k_pull = 256;            // items taken from a feed per turn
constexpr size_t k_read_chunk = 64 << 10; // bytes of a client message read at a time

using message = std::shared_ptr<const std::string>;

std::atomic<uint64_t> g_sessions{0};
std::atomic<uint64_t> g_messages_sent{0};

// Over a plain TCP stream or over TLS (`Next` is the layer under the WebSocket).
template <class Next>
class stream_session : public std::enable_shared_from_this<stream_session<Next>> {
 public:
  stream_session(Next&& s, engine::engine& e, const stream_limits& l, stream_caller by)
      : ws_(std::move(s)), engine_(e), limits_(l), by_(std::move(by)), stall_(ws_.get_executor()) {
    g_sessions.fetch_add(1, std::memory_order_relaxed);
  }

  ~stream_session() {
    g_sessions.fetch_sub(1, std::memory_order_relaxed);
    if (auth_listener_)
      by_.auth->unlisten(auth_listener_);
    for (auto& [id, sub] : views_)
      sub.feed->close();
    if (listener_)
      engine_.remove_durable_listener(listener_);
  }

  void run(beast::http::request<beast::http::string_body>&& req) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // The size limit is enforced here, not by Beast: Beast's teardown after
    // its own 1009 may close the socket while the rest of the frame is
    // still arriving, and the client sees a reset (1006) instead.
    ws_.read_message_max(0);
    ws_.async_accept(req, beast::bind_front_handler(&stream_session::on_accept, this->shared_from_this()));
  }

 private:
  struct view_sub {
    std::string view;
    std::shared_ptr<engine::view_feed> feed;
  };
  struct event_sub {
    std::string id;
    engine::event_feed feed;
  };

  void on_accept(beast::error_code ec) {
    if (ec)
      return;
    count_http_response(101);
    if (by_.auth) {
      std::weak_ptr<stream_session> weak = this->shared_from_this();
      auth_listener_ = by_.auth->listen([weak] {
        if (auto self = weak.lock())
          net::post(self->ws_.get_executor(), [self] { self->recheck(); });
      });
    }
    do_read();
  }

  // The auth file was reloaded: a revoked token's stream closes (1008); a
  // token that lost a grant loses the subscriptions it covered.
  void recheck() {
    if (closed_)
      return;
    auto table = by_.auth->current();
    auto* who = table->find_digest(by_.who->sha256);
    if (!who) {
      closed_ = true;
      k_log.info("closing a stream: its token was revoked");
      ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, "token revoked"),
                      [self = this->shared_from_this()](beast::error_code) {});
      return;
    }
    by_.held = std::move(table);
    by_.who = who;
    for (auto it = views_.begin(); it != views_.end();) {
      if (who->rights.may_read(it->second.view)) {
        ++it;
        continue;
      }
      it->second.feed->close();
      forbidden(it->first, fmt::format("this token may no longer read view {}", it->second.view));
      it = views_.erase(it);
    }
    if (!who->rights.events) {
      for (auto& e : events_)
        forbidden(e.id, "this token may no longer read events");
      events_.clear();
    }
  }

  void forbidden(const std::string& id, std::string_view text) {
    by_.auth->count(auth::denial::forbidden);
    error(id, "forbidden", text);
  }

  void do_read() {
    // One more byte than the limit allows tells a message that is too large.
    size_t room = limits_.max_message_bytes + 1 - std::min(in_.size(), limits_.max_message_bytes);
    ws_.async_read_some(in_, std::min(room, k_read_chunk),
                        beast::bind_front_handler(&stream_session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      closed_ = true;
      return; // closed or reset
    }
    if (in_.size() > limits_.max_message_bytes) {
      // The close handshake reads and drops the rest of the message, so the
      // client reads the 1009 before the connection ends.
      in_.consume(in_.size());
      closed_ = true; // nothing more is sent
      ws_.async_close(websocket::close_reason(websocket::close_code::too_big, "message too large"),
                      [self = this->shared_from_this()](beast::error_code) {});
      return;
    }
    if (!ws_.is_message_done())
      return do_read();
    std::string text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    handle(text);
    do_read();
  }

  // One client message.
  void handle(const std::string& text) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::object msg;
    if (auto e = parser.parse(text).get(root)) {
      // Well-formed but for a number no integer or double holds (2^64):
      // the client hears which field, under the id it gave.
      if (auto path = domain::out_of_range_number(text))
        return error(id_of(text), "bad_request", fmt::format("{} is a number out of range", *path));
      return error({}, "bad_request", fmt::format("malformed JSON: {}", simdjson::error_message(e)));
    }
    if (root.get_object().get(msg))
      return error({}, "bad_request", "a message must be a JSON object");
    auto op = string_field(msg, "op");
    auto id = string_field(msg, "id").value_or("");
    if (!op)
      return error(id, "bad_request", "op is required");
    if (*op == "ping")
      return send(std::make_shared<std::string>(R"({"type":"pong"})"));
    if (*op == "unsubscribe")
      return unsubscribe(id);
    if (*op != "subscribe")
      return error(id, "bad_request", fmt::format("unknown op '{}'", op->substr(0, 64)));
    if (id.empty())
      return error(id, "bad_request", "a subscription needs an id");
    if (views_.contains(id) || std::any_of(events_.begin(), events_.end(), [&](auto& e) { return e.id == id; }))
      return error(id, "bad_request", "a subscription with this id exists");
    bool events = false;
    if (!msg["events"].get_bool().get(events) && events)
      return handle_events_subscription(id, msg);
    handle_view_subscription(id, msg);
  }

  static std::optional<std::string> string_field(simdjson::dom::object msg, const char* k) {
    std::string_view v;
    if (msg[k].get_string().get(v))
      return std::nullopt;
    return std::string(v);
  }

  // A subscribe message with "events": true.
  void handle_events_subscription(const std::string& id, simdjson::dom::object msg) {
    if (by_.who && !by_.who->rights.events)
      return forbidden(id, "this token may not read events");
    uint64_t from = engine_.log().last_position() + 1;
    if (auto f = msg["from_position"]; f.error() != simdjson::NO_SUCH_FIELD && f.get_uint64().get(from))
      return error(id, "bad_request", "from_position must be a non-negative integer");
    return subscribe_events(id, from, string_field(msg, "aggregate_type").value_or(""));
  }

  // A subscribe message for a view's rows.
  void handle_view_subscription(const std::string& id, simdjson::dom::object msg) {
    auto view = string_field(msg, "view"), key = string_field(msg, "key");
    if (!view || !key)
      return error(id, "bad_request", "a view subscription needs view and key (\"*\" for every key)");
    uint64_t version = 0;
    if (auto v = msg["version"];
        v.error() != simdjson::NO_SUCH_FIELD && (v.get_uint64().get(version) || version == 0 || version > UINT32_MAX))
      return error(id, "bad_request", "version must be a positive integer");
    if (by_.who && !by_.who->rights.may_read(*view))
      return forbidden(id, fmt::format("this token may not read view {}", view->substr(0, 64)));
    engine::view_ref ref(*view, static_cast<uint32_t>(version));
    if (engine_.state_of(ref) == engine::view_state::building)
      return error(id, "view_building", fmt::format("view {} is still building", view->substr(0, 64)));
    std::weak_ptr<stream_session> weak = this->shared_from_this();
    auto feed = engine_.subscribe_view(ref, *key, [weak] {
      if (auto self = weak.lock())
        net::post(self->ws_.get_executor(), [self] { self->pump(); });
    });
    if (!feed)
      return error(id, "not_found",
                   version ? fmt::format("view {} has no version {} serving", view->substr(0, 64), version)
                           : fmt::format("no view named '{}'", view->substr(0, 64)));
    views_.emplace(id, view_sub{*view, std::move(feed)});
  }

  // The "id" of a message the DOM parser refused, read without validating the rest.
  static std::string id_of(const std::string& text) {
    simdjson::ondemand::parser p;
    simdjson::padded_string padded(text);
    simdjson::ondemand::document doc;
    std::string_view id;
    if (p.iterate(padded).get(doc) || doc.find_field_unordered("id").get_string().get(id))
      return {};
    return std::string(id);
  }

  // Retention deleted the events before the log's first position (SPEC §9).
  bool gone(const std::string& id, uint64_t from) {
    uint64_t first = engine_.log().first_position();
    if (from >= first || first == 1)
      return false;
    std::string out;
    codec::json_writer w(out);
    w.begin_object().key("type").string("error").key("id").string(id).key("code").string("gone");
    w.key("message").string(fmt::format("retention deleted the events before position {}", first));
    w.key("first_position").uinteger(first).end_object();
    send(std::make_shared<std::string>(std::move(out)));
    return true;
  }

  void subscribe_events(const std::string& id, uint64_t from, std::string type) {
    if (gone(id, from))
      return;
    if (!listener_) {
      std::weak_ptr<stream_session> weak = this->shared_from_this();
      listener_ = engine_.add_durable_listener([weak] {
        auto self = weak.lock();
        if (self && !self->wake_pending_.exchange(true))
          net::post(self->ws_.get_executor(), [self] {
            self->wake_pending_ = false;
            self->pump();
          });
      });
    }
    std::string out;
    {
      codec::json_writer w(out);
      w.begin_object().key("type").string("subscribed").key("id").string(id);
      w.key("position").uinteger(engine_.log().last_position()).end_object();
    }
    send(std::make_shared<std::string>(std::move(out)));
    events_.push_back({id, engine::event_feed(engine_.log(), from, std::move(type))});
    pump();
  }

  void unsubscribe(const std::string& id) {
    if (auto it = views_.find(id); it != views_.end()) {
      it->second.feed->close();
      views_.erase(it);
      return;
    }
    auto n = std::erase_if(events_, [&](auto& e) { return e.id == id; });
    if (n == 0)
      error(id, "not_found", "no subscription with this id");
  }

  void error(const std::string& id, std::string_view code, std::string_view text) {
    std::string out;
    codec::json_writer w(out);
    w.begin_object().key("type").string("error").key("id");
    if (id.empty())
      w.null();
    else
      w.string(id);
    w.key("code").string(code).key("message").string(text).end_object();
    send(std::make_shared<std::string>(std::move(out)));
  }

  bool room() const { return queued_bytes_ < limits_.max_queued_bytes; }

  // Moves items from the feeds into the outgoing queue while it has room;
  // what stays behind is conflated (views) or re-read later (events).
  void pump() {
    std::vector<engine::feed_item> items;
    for (auto& [id, sub] : views_) {
      while (room() && sub.feed->take(items, k_pull) > 0) {
        for (auto& it : items)
          send(render(id, sub.view, it));
        items.clear();
      }
    }
    // A subscriber that fell behind retention loses its subscription, not events silently.
    std::erase_if(events_, [&](auto& sub) { return gone(sub.id, sub.feed.next_position()); });
    for (auto& sub : events_) {
      while (room() && sub.feed.behind()) {
        auto r = sub.feed.read(k_pull, [&](const log::record& rec) {
          std::string out;
          codec::json_writer w(out);
          w.begin_object().key("type").string("event").key("id").string(sub.id).key("event");
          domain::write_event_json(engine_.model().types(), rec, w);
          w.end_object();
          send(std::make_shared<std::string>(std::move(out)));
        });
        if (!r) {
          k_log.error("event stream: {}", r.error().message);
          return close(websocket::close_code::internal_error);
        }
        if (*r == 0)
          break;
      }
    }
  }

  message render(const std::string& id, const std::string& view, const engine::feed_item& it) {
    std::string out;
    codec::json_writer w(out);
    w.begin_object();
    switch (it.kind) {
      case engine::item_kind::subscribed:
        w.key("type").string("subscribed").key("id").string(id).key("position").uinteger(it.position);
        break;
      case engine::item_kind::snapshot:
      case engine::item_kind::change:
      case engine::item_kind::rebuilt:
        w.key("type").string(it.kind == engine::item_kind::change ? "change" : "snapshot").key("id").string(id);
        w.key("view").string(view).key("key").string(it.key).key("position").uinteger(it.position).key("value");
        if (it.value)
          w.raw(*it.value);
        else
          w.null();
        if (it.kind == engine::item_kind::rebuilt)
          w.key("rebuilt").boolean(true);
        break;
      case engine::item_kind::parked:
        w.key("type").string("parked").key("id").string(id).key("view").string(view).key("key").string(it.key);
        w.key("position").uinteger(it.position).key("error").string(it.error);
        break;
    }
    w.end_object();
    return std::make_shared<std::string>(std::move(out));
  }

  void send(message m) {
    if (closed_)
      return;
    queued_bytes_ += m->size();
    out_.push_back(std::move(m));
    if (!writing_)
      do_write();
  }

  // One write at a time; the queue behind it is bounded by what pump() lets in.
  void do_write() {
    if (out_.empty() || closed_)
      return;
    writing_ = true;
    ws_.text(true);
    if (!stall_armed_)
      watch_stall();
    ws_.async_write(net::buffer(*out_.front()),
                    beast::bind_front_handler(&stream_session::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    ++writes_done_;
    if (ec) {
      closed_ = true;
      return;
    }
    g_messages_sent.fetch_add(1, std::memory_order_relaxed);
    queued_bytes_ -= out_.front()->size();
    out_.pop_front();
    if (out_.size() < 8)
      pump(); // nearly drained: take what the feeds hold
    if (!writing_)
      do_write();
  }

  // A client that stops reading altogether is closed: its kernel buffers
  // fill, a write makes no progress for the stall timeout, and the queue
  // behind it is bounded by pump(). One timer, re-armed while writes go on.
  void watch_stall() {
    stall_armed_ = true;
    auto seen = writes_done_;
    stall_.expires_after(limits_.stall_timeout);
    stall_.async_wait([self = this->shared_from_this(), seen](beast::error_code ec) {
      self->stall_armed_ = false;
      if (ec || self->closed_ || !self->writing_)
        return;
      if (self->writes_done_ == seen)
        self->close(websocket::close_code::policy_error);
      else
        self->watch_stall();
    });
  }

  void close(websocket::close_code code) {
    if (closed_)
      return;
    closed_ = true;
    // The pending write will not finish: cut the connection under it.
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
    k_log.info("closed a stream with code {}", static_cast<int>(code));
  }

  websocket::stream<Next> ws_;
  engine::engine& engine_;
  const stream_limits& limits_;
  stream_caller by_;
  uint64_t auth_listener_ = 0;
  beast::flat_buffer in_;
  std::deque<message> out_;
  size_t queued_bytes_ = 0;
  std::map<std::string, view_sub> views_;
  std::vector<event_sub> events_;
  uint64_t listener_ = 0;
  std::atomic<bool> wake_pending_{false};
  net::steady_timer stall_;
  uint64_t writes_done_ = 0;
  bool writing_ = false;
  bool stall_armed_ = false;
  bool closed_ = false;
};

} // namespace

front_metrics read_front_metrics() {
  return {g_sessions.load(std::memory_order_relaxed), g_messages_sent.load(std::memory_order_relaxed),
          engine::view_feed::conflated_total()};
}

void start_stream_session(beast::tcp_stream&& stream, beast::http::request<beast::http::string_body>&& req,
                          engine::engine& e, const stream_limits& l, stream_caller by) {
  std::make_shared<stream_session<beast::tcp_stream>>(std::move(stream), e, l, std::move(by))->run(std::move(req));
}

void start_stream_session(tls_stream&& stream, beast::http::request<beast::http::string_body>&& req, engine::engine& e,
                          const stream_limits& l, stream_caller by) {
  std::make_shared<stream_session<tls_stream>>(std::move(stream), e, l, std::move(by))->run(std::move(req));
}

} // namespace sluice::http
