// Fuzz target: the admin HTTP request path, bytes in -> responses out, without sockets. The
// input is what one client sends on one connection; it is read as the server reads it
// (http::read into a flat_buffer with a request_parser and the server's body limit, request
// after request while the connection stays open) and each request is answered by the
// server's own functions (daemon/src/admin/admin_http.h), the response serialized.
// Beyond "no crash, no undefined behaviour": every response is a complete, well-formed
// HTTP/1.1 message that our own response parser reads back.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "admin/admin_http.h"
#include "orch/admin/admin_server.h"
#include "orch/metrics/metrics.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

/// A connection as a synchronous stream: reads hand out the input a little at a time (so the
/// parser sees requests split across reads, as from a socket), writes append to `written`.
class ByteStream {
 public:
  explicit ByteStream(std::string_view input) : input_(input) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    if (input_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    // Chunk sizes vary with the data, so the fuzzer explores every split point.
    const std::size_t chunk = 1 + static_cast<unsigned char>(input_.front()) % 61;
    const std::size_t n = asio::buffer_copy(buffers, asio::buffer(input_.data(),
                                                                   std::min(chunk, input_.size())));
    input_.remove_prefix(n);
    ec = {};
    return n;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    const std::size_t n = asio::buffer_size(buffers);
    const std::size_t old = written.size();
    written.resize(old + n);
    asio::buffer_copy(asio::buffer(written.data() + old, n), buffers);
    ec = {};
    return n;
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    beast::error_code ec;
    return write_some(buffers, ec);
  }

  std::string written;

 private:
  std::string_view input_;
};

/// The response must be a whole HTTP/1.1 message, and a HEAD's body empty.
void check_response(const std::string& bytes, bool head) {
  http::response_parser<http::string_body> parser;
  parser.skip(head);
  parser.eager(true);
  std::size_t used = 0;
  while (!parser.is_done()) {
    beast::error_code ec;
    const std::size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec || n == 0) std::abort();  // malformed, or cut short
    used += n;
  }
  if (used != bytes.size()) std::abort();  // bytes after the message: a HEAD's body, say
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const orch::metrics::Metrics* const kMetrics = new orch::metrics::Metrics();
  static const orch::admin::AdminServerOptions kOptions;
  const std::function<bool()> ready = [size] { return size % 2 == 0; };

  ByteStream stream(std::string_view(reinterpret_cast<const char*>(data), size));
  beast::flat_buffer buffer;
  for (int requests = 0; requests < 64; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kOptions.body_limit);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    orch::admin::Response res;
    bool head = false;
    if (ec) {
      const auto status = orch::admin::status_for_read_error(ec);
      if (!status) return 0;
      res = orch::admin::refusal(*status);
    } else {
      head = parser.get().method() == http::verb::head;
      res = orch::admin::respond(parser.get(), *kMetrics, ready);
    }
    stream.written.clear();
    http::write(stream, res, ec);
    if (ec) std::abort();
    check_response(stream.written, head);
    if (!res.keep_alive()) return 0;
  }
  return 0;
}
