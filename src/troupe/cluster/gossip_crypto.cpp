#include "troupe/cluster/gossip_crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace troupe::cluster {
namespace {

constexpr std::uint8_t magic = 0xE1;  // sealed gossip, format version 1
constexpr std::string_view aad_label = "troupe-gossip-v1";
constexpr std::size_t nonce_size = 12;
constexpr std::size_t timestamp_size = 8;
constexpr std::size_t tag_size = 16;
constexpr std::size_t header_size = 1 + nonce_size;
// EVP takes lengths as int; feed longer inputs in pieces.
constexpr std::size_t max_chunk = std::size_t{1} << 30;

const error bad_key_text(errc::invalid_argument,
                         "a gossip key is 64 hex digits or the base64 of 32 bytes");

void put_be(std::byte* out, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(v >> (8 * (n - 1 - i)));
}

std::uint64_t get_be(const std::byte* in, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}

const unsigned char* uc(const std::byte* p) noexcept {
  return reinterpret_cast<const unsigned char*>(p);
}
unsigned char* uc(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }

struct ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, ctx_free>;

cipher_ctx new_ctx() {
  cipher_ctx c(EVP_CIPHER_CTX_new());
  if (!c) throw std::bad_alloc();
  return c;
}

void check(int rc) {
  if (rc != 1) throw std::bad_alloc();
}

/// Feeds `in` through `c` (as associated data when `out` is null), in pieces
/// EVP's int lengths can hold. GCM is a stream mode: output length = input.
template <auto Update>
void update(EVP_CIPHER_CTX* c, std::byte* out, std::span<const std::byte> in) {
  while (!in.empty()) {
    const std::size_t n = std::min(in.size(), max_chunk);
    int len = 0;
    check(Update(c, out ? uc(out) : nullptr, &len, uc(in.data()), static_cast<int>(n)));
    if (out) out += n;
    in = in.subspan(n);
  }
}

/// Decrypts `body` into `out` (same size) under `key`; returns whether `tag`
/// verifies. Throws std::bad_alloc only if OpenSSL fails for want of memory.
bool aes_gcm_open(EVP_CIPHER_CTX* c, const gossip_key& key, std::span<const std::byte> iv,
                  std::span<const std::byte> aad, std::span<const std::byte> body,
                  std::span<const std::byte> tag, std::byte* out) {
  check(EVP_CIPHER_CTX_reset(c));
  check(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  check(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr));
  check(EVP_DecryptInit_ex(c, nullptr, nullptr, uc(key.data()), uc(iv.data())));
  update<EVP_DecryptUpdate>(c, nullptr, aad);
  update<EVP_DecryptUpdate>(c, out, body);
  std::array<std::byte, tag_size> t;
  std::copy(tag.begin(), tag.end(), t.begin());
  check(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(t.size()), t.data()));
  int len = 0;
  // A failed check must not leave entries in this thread's OpenSSL error
  // queue, where TLS code on the same thread would find them.
  ERR_set_mark();
  const bool ok = EVP_DecryptFinal_ex(c, nullptr, &len) > 0;
  ERR_pop_to_mark();
  return ok;
}

bool keys_equal(const gossip_key& a, const gossip_key& b) noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::vector<gossip_key>& keys) noexcept {
  if (!keys.empty()) OPENSSL_cleanse(keys.data(), keys.size() * sizeof(gossip_key));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

// ---- key text ----------------------------------------------------------------

result<gossip_key> parse_gossip_key(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  gossip_key k{};
  if (text.size() == 2 * k.size()) {
    for (std::size_t i = 0; i < k.size(); ++i) {
      const int hi = hex_value(text[2 * i]);
      const int lo = hex_value(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return bad_key_text;
      k[i] = static_cast<std::byte>(hi << 4 | lo);
    }
    return k;
  }

  // 32 bytes = 256 bits = 42 digits of 6 bits plus 4 bits in a 43rd digit
  // (whose low 2 bits are unused), then one '=' of padding.
  if (text.size() == 44) {
    if (text.back() != '=') return bad_key_text;
    text.remove_suffix(1);
  }
  if (text.size() != 43) return bad_key_text;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t o = 0;
  for (char c : text) {
    const int v = b64_value(c);
    if (v < 0) return bad_key_text;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      k[o++] = static_cast<std::byte>((acc >> bits) & 0xff);
      acc &= (std::uint32_t{1} << bits) - 1;
    }
  }
  if (o != k.size() || acc != 0) return bad_key_text;  // acc: the unused low bits
  return k;
}

std::string format_gossip_key(const gossip_key& k) {
  std::string out;
  out.reserve(44);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::byte b : k) {
    acc = (acc << 8) | static_cast<std::uint8_t>(b);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += b64_digits[(acc >> bits) & 0x3f];
    }
    acc &= (std::uint32_t{1} << bits) - 1;
  }
  if (bits > 0) out += b64_digits[(acc << (6 - bits)) & 0x3f];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

gossip_key make_gossip_key() {
  gossip_key k;
  if (RAND_bytes(uc(k.data()), static_cast<int>(k.size())) != 1) {
    std::fputs("troupe: the cryptographic random generator failed (no entropy)\n", stderr);
    std::abort();
  }
  return k;
}

// ---- keyring -----------------------------------------------------------------

gossip_keyring::gossip_keyring(const gossip_key& primary) : keys_{primary} {}

gossip_keyring& gossip_keyring::operator=(const gossip_keyring& o) {
  if (this != &o) {
    wipe();
    keys_ = o.keys_;
  }
  return *this;
}

gossip_keyring& gossip_keyring::operator=(gossip_keyring&& o) noexcept {
  if (this != &o) {
    wipe();
    keys_ = std::move(o.keys_);
    o.keys_.clear();
  }
  return *this;
}

gossip_keyring::~gossip_keyring() { wipe(); }

void gossip_keyring::wipe() noexcept {
  cleanse(keys_);
  keys_.clear();
}

std::size_t gossip_keyring::find(const gossip_key& k) const noexcept {
  for (std::size_t i = 0; i < keys_.size(); ++i)
    if (keys_equal(keys_[i], k)) return i;
  return keys_.size();
}

bool gossip_keyring::contains(const gossip_key& k) const noexcept {
  return find(k) != keys_.size();
}

void gossip_keyring::install(const gossip_key& k) {
  if (contains(k)) return;
  // Grow into a fresh buffer and wipe the old one, so that no copy of a key
  // is left behind in freed memory.
  std::vector<gossip_key> grown;
  grown.reserve(keys_.size() + 1);
  grown = keys_;
  grown.push_back(k);
  cleanse(keys_);
  keys_.swap(grown);
}

result<void> gossip_keyring::use(const gossip_key& k) {
  const std::size_t i = find(k);
  if (i == keys_.size()) return error(errc::invalid_argument, "gossip key not installed");
  std::rotate(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(i),
              keys_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  return {};
}

result<void> gossip_keyring::remove(const gossip_key& k) {
  const std::size_t i = find(k);
  if (i == keys_.size()) return error(errc::invalid_argument, "gossip key not installed");
  if (i == 0) return error(errc::invalid_argument, "cannot remove the primary gossip key");
  std::rotate(keys_.begin() + static_cast<std::ptrdiff_t>(i),
              keys_.begin() + static_cast<std::ptrdiff_t>(i) + 1, keys_.end());
  OPENSSL_cleanse(&keys_.back(), sizeof(gossip_key));
  keys_.pop_back();
  return {};
}

// ---- cipher ------------------------------------------------------------------

std::size_t gossip_cipher::nonce_hash::operator()(const nonce& n) const noexcept {
  const std::uint64_t sender = get_be(n.data(), 4);
  const std::uint64_t counter = get_be(n.data() + 4, 8);
  return static_cast<std::size_t>(counter ^ (sender * 0x9E3779B97F4A7C15ull));
}

gossip_cipher::gossip_cipher(std::string cluster_name, gossip_keyring keys, clock& time,
                             random_source& random, duration replay_window,
                             std::size_t max_remembered)
    : cluster_name_(std::move(cluster_name)),
      keys_(std::move(keys)),
      clock_(time),
      window_ms_(std::max<std::int64_t>(
          1, std::chrono::ceil<std::chrono::milliseconds>(replay_window).count())),
      max_remembered_(max_remembered),
      sender_id_(static_cast<std::uint32_t>(random.next())),
      counter_(random.next()) {
  const auto label = std::as_bytes(std::span(aad_label));
  const auto name = std::as_bytes(std::span(cluster_name_));
  aad_.assign(label.begin(), label.end());
  aad_.insert(aad_.end(), name.begin(), name.end());
}

std::int64_t gossip_cipher::now_ms() const noexcept {
  return std::chrono::floor<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
}

std::vector<std::byte> gossip_cipher::seal(std::span<const std::byte> plaintext) {
  std::vector<std::byte> out(overhead + plaintext.size());
  out[0] = static_cast<std::byte>(magic);
  put_be(out.data() + 1, sender_id_, 4);
  put_be(out.data() + 5, counter_, 8);
  ++counter_;
  std::array<std::byte, timestamp_size> stamp;
  put_be(stamp.data(), static_cast<std::uint64_t>(now_ms()), stamp.size());

  const gossip_key& key = keys_.primary();
  const cipher_ctx c = new_ctx();
  check(EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  check(
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr));
  check(EVP_EncryptInit_ex(c.get(), nullptr, nullptr, uc(key.data()), uc(out.data() + 1)));
  update<EVP_EncryptUpdate>(c.get(), nullptr, aad_);
  update<EVP_EncryptUpdate>(c.get(), out.data() + header_size, stamp);
  update<EVP_EncryptUpdate>(c.get(), out.data() + header_size + timestamp_size, plaintext);
  int len = 0;
  check(EVP_EncryptFinal_ex(c.get(), nullptr, &len));
  check(EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                            out.data() + out.size() - tag_size));
  ++stats_.sealed;
  return out;
}

result<std::vector<std::byte>> gossip_cipher::open(std::span<const std::byte> wire) {
  if (wire.empty()) {
    ++stats_.rejected_malformed;
    return error(errc::decode_error, "empty gossip packet");
  }
  if (static_cast<std::uint8_t>(wire[0]) != magic) {
    ++stats_.rejected_unencrypted;
    return error(errc::unauthorized, "gossip packet not encrypted");
  }
  if (wire.size() < overhead) {
    ++stats_.rejected_malformed;
    return error(errc::decode_error, "sealed gossip packet too short");
  }

  nonce n;
  std::copy_n(wire.begin() + 1, nonce_size, n.begin());
  const auto body = wire.subspan(header_size, wire.size() - header_size - tag_size);
  const auto tag = wire.last(tag_size);
  std::vector<std::byte> plain(body.size());
  const cipher_ctx c = new_ctx();
  bool authentic = false;
  for (const gossip_key& k : keys_.keys_) {
    if (aes_gcm_open(c.get(), k, n, aad_, body, tag, plain.data())) {
      authentic = true;
      break;
    }
  }
  if (!authentic) {
    ++stats_.rejected_auth;
    return error(errc::unauthorized,
                 "gossip packet failed authentication (wrong key or cluster name, or altered)");
  }

  const auto stamp = static_cast<std::int64_t>(get_be(plain.data(), timestamp_size));
  const std::int64_t now = now_ms();
  forget_expired(now);
  if (stamp < now - window_ms_) {
    ++stats_.rejected_replay;
    return error(errc::unauthorized, "replay: gossip packet older than the replay window");
  }
  if (stamp > now + window_ms_) {
    ++stats_.rejected_replay;
    return error(errc::unauthorized, "replay: gossip packet timestamp too far in the future");
  }
  if (seen_.contains(n)) {
    ++stats_.rejected_replay;
    return error(errc::unauthorized, "replay: gossip packet nonce already seen");
  }
  if (seen_.size() >= max_remembered_) {
    ++stats_.rejected_overload;
    return error(errc::unauthorized, "gossip replay memory full");
  }
  seen_.insert(n);
  expiries_.emplace(stamp + window_ms_, n);

  ++stats_.opened;
  plain.erase(plain.begin(), plain.begin() + timestamp_size);
  return plain;
}

void gossip_cipher::forget_expired(std::int64_t now) noexcept {
  // A nonce whose timestamp is older than now - window is rejected by the
  // timestamp check alone, so remembering it is no longer needed.
  while (!expiries_.empty() && expiries_.top().first < now) {
    seen_.erase(expiries_.top().second);
    expiries_.pop();
  }
}

}  // namespace troupe::cluster
