#pragma once
// The chunked transfer coding (RFC 9112 section 7.1), checked strictly and incrementally.
//
// The relays in io.hpp forward a chunked body verbatim, as it arrives. Before any byte of it
// leaves, this decoder says what the bytes at the front of what has arrived are: a complete
// chunk-size line, chunk data, the CRLF after the data, a trailer line or the final blank
// line (each forwarded as validated), or an incomplete piece (read more), or the end of the
// body, or a malformed body (refuse it, forward nothing more, never reuse the connection).
// Plain bytes in, plain decisions out: no I/O, so it is unit-tested and fuzzed alone.
//
// Two parsers reading one chunked body differently is how requests are smuggled (a trailer
// line "X: y\n\nPOST /..." ends the body early for a server that accepts bare LF). So only
// the strict grammar passes:
//   chunk-size line  1*HEXDIG (value below 2^60), then chunk extensions
//                    *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ),
//                    then CRLF; nothing else (no trailing whitespace, no controls);
//   after the data   exactly CRLF;
//   trailer line     token ":" OWS field-value OWS CRLF; the value is visible ASCII, SP,
//                    HTAB and obs-text (no CR, LF, NUL or other controls); no obs-fold (a
//                    line starting with SP or HTAB); no field that frames, routes or
//                    authenticates the message (see forbidden_trailer);
//   the end          an empty line (CRLF) after the trailer lines;
//   everywhere       CRLF only: a bare LF or a bare CR is refused.
// Sizes are bounded: a chunk-size line or a trailer line by `limits.line`, the whole
// trailer section by `limits.trailers`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace airlock::proxy {

struct ChunkedLimits {
    std::size_t line = 4096;           // a chunk-size line or a trailer line, CRLF included
    std::size_t trailers = 16 * 1024;  // the whole trailer section, final CRLF included
};

struct ChunkedStep {
    enum class Kind {
        more,     // the front holds an incomplete piece: read more, call again with it
        framing,  // the first `length` bytes are validated framing: forward them
        data,     // the next `length` bytes of the stream are chunk data (more than may have
                  // arrived yet): forward exactly that many, then call again after them
        end,      // the body ended before the front: these bytes belong to what follows
        bad,      // malformed: refuse the message (see `reason`); forward nothing more
    };
    Kind kind = Kind::more;
    std::uint64_t length = 0;  // framing, data
    std::string reason;        // bad: one line, names the problem
};

// One chunked body, from its first chunk-size line to its final CRLF.
// Not thread-safe; one decoder per body.
class ChunkedDecoder {
public:
    explicit ChunkedDecoder(ChunkedLimits limits = {}) : limits_(limits) {}

    // Decides about the bytes at the front of `in`: the stream right after the piece the
    // previous step described (after a `data` step, after that many data bytes). `framing`
    // and `data` advance the decoder: the caller must forward that piece before calling
    // again. `more` and `end` do not; `bad` is final (every later call repeats it).
    ChunkedStep step(std::string_view in);

    bool done() const { return state_ == State::done; }
    // Chunk data bytes announced so far.
    std::uint64_t data_bytes() const { return data_bytes_; }

private:
    enum class State { size_line, data, data_end, trailer, done, bad };
    ChunkedStep fail(std::string reason);

    ChunkedLimits limits_;
    State state_ = State::size_line;
    std::uint64_t chunk_ = 0;        // size of the chunk whose data comes next
    std::uint64_t data_bytes_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::string reason_;             // once bad
};

// A whole chunked body at once (tests, fuzzing): the number of bytes it spans in `body`
// (what follows is the next message), 0 if incomplete, or the reason it is malformed.
struct ChunkedScan {
    bool ok = false;
    std::size_t length = 0;  // when ok: 0 means incomplete
    std::string reason;      // when !ok
};
ChunkedScan scan_chunked(std::string_view body, ChunkedLimits limits = {});

// One chunk-size line without its CRLF ("1a;name=value"): true and `size` set when it
// follows the grammar above, else false and `reason` set.
bool parse_chunk_size_line(std::string_view line, std::uint64_t& size, std::string& reason);

// One trailer field line without its CRLF: true when valid, else false and `reason` set.
bool check_trailer_line(std::string_view line, std::string& reason);

// Trailer fields refused because a recipient merging them into the header section could
// be made to frame, route or authenticate the message differently: Content-Length,
// Transfer-Encoding, Trailer, Host, Connection, Keep-Alive, Upgrade, TE, Proxy-Connection,
// Proxy-Authorization, Proxy-Authenticate, Authorization, Cookie, Set-Cookie,
// Content-Encoding, Content-Type, Content-Range, Expect.
bool forbidden_trailer(std::string_view name);

}  // namespace airlock::proxy
