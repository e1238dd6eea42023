#include "troupe/cluster/dns_message.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace troupe::cluster {
namespace {

constexpr std::size_t max_label = 63;
constexpr std::size_t max_name = 255;
constexpr int max_pointers = 128;
// The smallest question (root name, type, class) and record (root name,
// type, class, ttl, length): bounds the counts a header may claim.
constexpr std::size_t min_question = 5;
constexpr std::size_t min_record = 11;

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool same_label(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

error bad_name(std::string_view why) { return error(errc::invalid_name, std::string(why)); }

// ------------------------------------------------------------------ writer

class writer {
 public:
  explicit writer(std::size_t max) : max_(max) {}

  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void bytes(std::string_view s) {
    for (char c : s) u8(static_cast<std::uint8_t>(c));
  }
  // Writes `n`, pointing to an earlier copy of its longest known suffix.
  result<void> name(const dns_name& n, bool compress) {
    if (!n.valid()) return bad_name("an invalid name: '" + n.to_string() + "'");
    for (std::size_t i = 0; i < n.labels.size(); ++i) {
      std::vector<std::string> suffix;
      for (std::size_t j = i; j < n.labels.size(); ++j) {
        std::string l = n.labels[j];
        std::transform(l.begin(), l.end(), l.begin(), lower);
        suffix.push_back(std::move(l));
      }
      if (compress) {
        auto it = seen_.find(suffix);
        if (it != seen_.end()) {
          u16(static_cast<std::uint16_t>(0xC000 | it->second));
          return {};
        }
      }
      if (out_.size() < 0x4000) seen_.emplace(std::move(suffix), out_.size());
      u8(static_cast<std::uint8_t>(n.labels[i].size()));
      bytes(n.labels[i]);
    }
    u8(0);
    return {};
  }
  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
  void patch_u16(std::size_t at, std::uint16_t v) {
    out_[at] = static_cast<std::byte>(v >> 8);
    out_[at + 1] = static_cast<std::byte>(v);
  }
  [[nodiscard]] std::size_t max() const noexcept { return max_; }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::size_t max_;
  std::vector<std::byte> out_;
  std::map<std::vector<std::string>, std::size_t> seen_;
};

std::uint16_t class_bits(std::uint16_t klass, bool top, std::uint16_t type) {
  if (type == dns_type::opt) return klass;
  return static_cast<std::uint16_t>((klass & 0x7fff) | (top ? 0x8000 : 0));
}

result<void> write_record(writer& w, const dns_record& r) {
  if (auto ok = w.name(r.name, true); !ok) return ok;
  w.u16(r.type);
  w.u16(class_bits(r.klass, r.cache_flush, r.type));
  w.u32(r.ttl);
  const std::size_t length_at = w.size();
  w.u16(0);
  const std::size_t start = w.size();
  switch (r.type) {
    case dns_type::a:
      w.u32(r.a);
      break;
    case dns_type::ptr:
      if (auto ok = w.name(r.target, true); !ok) return ok;
      break;
    case dns_type::srv:
      w.u16(r.priority);
      w.u16(r.weight);
      w.u16(r.port);
      if (auto ok = w.name(r.target, false); !ok) return ok;
      break;
    case dns_type::txt:
      for (const std::string& s : r.txt) {
        if (s.size() > 255) return error(errc::invalid_argument, "a TXT string over 255 bytes");
        w.u8(static_cast<std::uint8_t>(s.size()));
        w.bytes(s);
      }
      if (r.txt.empty()) w.u8(0);  // RFC 6763, section 6.1: never empty
      break;
    default:
      for (std::byte b : r.raw) w.u8(static_cast<std::uint8_t>(b));
  }
  const std::size_t length = w.size() - start;
  if (length > 65'535) return error(errc::invalid_argument, "record data over 65535 bytes");
  w.patch_u16(length_at, static_cast<std::uint16_t>(length));
  return {};
}

// ------------------------------------------------------------------ reader

class reader {
 public:
  explicit reader(std::span<const std::byte> d) : d_(d) {}

  [[nodiscard]] std::size_t left() const noexcept { return d_.size() - pos_; }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  result<std::uint8_t> u8() {
    if (left() < 1) return truncated();
    return std::to_integer<std::uint8_t>(d_[pos_++]);
  }
  result<std::uint16_t> u16() {
    if (left() < 2) return truncated();
    const auto v = static_cast<std::uint16_t>(std::to_integer<unsigned>(d_[pos_]) << 8 |
                                              std::to_integer<unsigned>(d_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  result<std::uint32_t> u32() {
    auto hi = u16();
    if (!hi) return hi.error();
    auto lo = u16();
    if (!lo) return lo.error();
    return static_cast<std::uint32_t>(*hi) << 16 | *lo;
  }
  result<std::string> text(std::size_t n) {
    if (left() < n) return truncated();
    std::string s(reinterpret_cast<const char*>(d_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // Reads a (possibly compressed) name at the position, leaving the
  // position after its first pointer or its root.
  result<dns_name> name() {
    dns_name n;
    std::size_t p = pos_;
    std::size_t wire = 1;
    int pointers = 0;
    bool jumped = false;
    for (;;) {
      if (p >= d_.size()) return truncated();
      const auto len = std::to_integer<std::uint8_t>(d_[p]);
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= d_.size()) return truncated();
        const std::size_t target =
            static_cast<std::size_t>(len & 0x3F) << 8 | std::to_integer<std::size_t>(d_[p + 1]);
        if (target >= p) return bad("a compression pointer that does not point backwards");
        if (++pointers > max_pointers) return bad("too many compression pointers in one name");
        if (!jumped) pos_ = p + 2;
        jumped = true;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) return bad("an unknown label type");
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        return n;
      }
      wire += 1 + len;
      if (wire > max_name) return bad("a name over 255 bytes");
      if (p + 1 + len > d_.size()) return truncated();
      n.labels.emplace_back(reinterpret_cast<const char*>(d_.data() + p + 1), len);
      p += 1 + len;
    }
  }
  void seek(std::size_t p) noexcept { pos_ = p; }

  static error truncated() { return error(errc::decode_error, "a truncated DNS message"); }
  static error bad(std::string_view why) {
    return error(errc::decode_error, "a bad DNS message: " + std::string(why));
  }

 private:
  std::span<const std::byte> d_;
  std::size_t pos_ = 0;
};

result<dns_record> read_record(reader& r) {
  dns_record rec;
  auto name = r.name();
  if (!name) return name.error();
  rec.name = std::move(*name);
  auto type = r.u16();
  auto klass = r.u16();
  auto ttl = r.u32();
  auto length = r.u16();
  if (!type || !klass || !ttl || !length) return reader::truncated();
  rec.type = *type;
  rec.klass = *type == dns_type::opt ? *klass : static_cast<std::uint16_t>(*klass & 0x7fff);
  rec.cache_flush = *type != dns_type::opt && (*klass & 0x8000) != 0;
  rec.ttl = *ttl;
  if (r.left() < *length) return reader::truncated();
  const std::size_t end = r.pos() + *length;
  switch (rec.type) {
    case dns_type::a: {
      if (*length != 4) return reader::bad("an A record whose data is not 4 bytes");
      rec.a = *r.u32();
      break;
    }
    case dns_type::ptr: {
      auto t = r.name();
      if (!t) return t.error();
      rec.target = std::move(*t);
      break;
    }
    case dns_type::srv: {
      if (*length < 7) return reader::bad("an SRV record too short");
      rec.priority = *r.u16();
      rec.weight = *r.u16();
      rec.port = *r.u16();
      auto t = r.name();
      if (!t) return t.error();
      rec.target = std::move(*t);
      break;
    }
    case dns_type::txt: {
      while (r.pos() < end) {
        const std::uint8_t n = *r.u8();
        if (r.pos() + n > end) return reader::bad("a TXT string past its record");
        rec.txt.push_back(*r.text(n));
      }
      break;
    }
    default: {
      auto raw = r.text(*length);
      rec.raw.resize(raw->size());
      std::transform(raw->begin(), raw->end(), rec.raw.begin(),
                     [](char c) { return static_cast<std::byte>(c); });
    }
  }
  if (r.pos() != end) return reader::bad("record data longer or shorter than its length");
  return rec;
}

}  // namespace

// ---------------------------------------------------------------- dns_name

result<dns_name> dns_name::parse(std::string_view text) {
  dns_name n;
  if (text.empty() || text == ".") return n;
  std::string label;
  bool escaped = false;
  bool ended_with_dot = false;
  for (char c : text) {
    ended_with_dot = false;
    if (escaped) {
      label += c;
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '.') {
      if (label.empty()) return bad_name("an empty label in '" + std::string(text) + "'");
      n.labels.push_back(std::move(label));
      label.clear();
      ended_with_dot = true;
    } else {
      label += c;
    }
  }
  if (escaped) return bad_name("a name that ends in a lone backslash");
  if (!ended_with_dot) {
    if (label.empty()) return bad_name("an empty label in '" + std::string(text) + "'");
    n.labels.push_back(std::move(label));
  }
  if (!n.valid()) return bad_name("a label over 63 bytes or a name over 255 bytes");
  return n;
}

result<dns_name> dns_name::prepend(std::string label) const {
  dns_name n;
  n.labels.reserve(labels.size() + 1);
  n.labels.push_back(std::move(label));
  n.labels.insert(n.labels.end(), labels.begin(), labels.end());
  if (!n.valid()) return bad_name("a label must be 1 to 63 bytes and a name at most 255");
  return n;
}

std::string dns_name::to_string() const {
  if (labels.empty()) return ".";
  std::string out;
  for (const std::string& l : labels) {
    if (!out.empty()) out += '.';
    for (char c : l) {
      if (c == '.' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

std::size_t dns_name::wire_size() const noexcept {
  std::size_t n = 1;
  for (const std::string& l : labels) n += 1 + l.size();
  return n;
}

bool dns_name::valid() const noexcept {
  for (const std::string& l : labels)
    if (l.empty() || l.size() > max_label) return false;
  return wire_size() <= max_name;
}

bool operator==(const dns_name& a, const dns_name& b) noexcept {
  if (a.labels.size() != b.labels.size()) return false;
  for (std::size_t i = 0; i < a.labels.size(); ++i)
    if (!same_label(a.labels[i], b.labels[i])) return false;
  return true;
}

// ------------------------------------------------------------ the message

result<std::vector<std::byte>> encode_dns(const dns_message& m, std::size_t max_size) {
  for (std::size_t n :
       {m.questions.size(), m.answers.size(), m.authorities.size(), m.additionals.size()})
    if (n > 65'535) return error(errc::invalid_argument, "over 65535 entries in one section");
  writer w(max_size);
  w.u16(m.id);
  w.u16(m.flags);
  w.u16(static_cast<std::uint16_t>(m.questions.size()));
  w.u16(static_cast<std::uint16_t>(m.answers.size()));
  w.u16(static_cast<std::uint16_t>(m.authorities.size()));
  w.u16(static_cast<std::uint16_t>(m.additionals.size()));
  for (const dns_question& q : m.questions) {
    if (auto ok = w.name(q.name, true); !ok) return ok.error();
    w.u16(q.type);
    w.u16(static_cast<std::uint16_t>((q.klass & 0x7fff) | (q.unicast_response ? 0x8000 : 0)));
  }
  for (const auto* section : {&m.answers, &m.authorities, &m.additionals})
    for (const dns_record& r : *section)
      if (auto ok = write_record(w, r); !ok) return ok.error();
  if (w.size() > max_size)
    return error(errc::invalid_argument, "a DNS message of " + std::to_string(w.size()) +
                                             " bytes, over " + std::to_string(max_size));
  return w.take();
}

result<dns_message> decode_dns(std::span<const std::byte> data) {
  if (data.size() > 65'535) return reader::bad("over 65535 bytes");
  reader r(data);
  dns_message m;
  auto id = r.u16();
  auto flags = r.u16();
  auto qd = r.u16();
  auto an = r.u16();
  auto ns = r.u16();
  auto ar = r.u16();
  if (!id || !flags || !qd || !an || !ns || !ar) return reader::truncated();
  m.id = *id;
  m.flags = *flags;
  if (*qd * min_question + (std::size_t{*an} + *ns + *ar) * min_record > r.left())
    return reader::bad("counts larger than the message can hold");
  m.questions.reserve(*qd);
  for (std::uint16_t i = 0; i < *qd; ++i) {
    dns_question q;
    auto name = r.name();
    if (!name) return name.error();
    q.name = std::move(*name);
    auto type = r.u16();
    auto klass = r.u16();
    if (!type || !klass) return reader::truncated();
    q.type = *type;
    q.klass = static_cast<std::uint16_t>(*klass & 0x7fff);
    q.unicast_response = (*klass & 0x8000) != 0;
    m.questions.push_back(std::move(q));
  }
  std::pair<std::vector<dns_record>*, std::uint16_t> sections[] = {
      {&m.answers, *an}, {&m.authorities, *ns}, {&m.additionals, *ar}};
  for (auto& [section, count] : sections) {
    section->reserve(count);
    for (std::uint16_t i = 0; i < count; ++i) {
      auto rec = read_record(r);
      if (!rec) return rec.error();
      section->push_back(std::move(*rec));
    }
  }
  return m;
}

}  // namespace troupe::cluster
