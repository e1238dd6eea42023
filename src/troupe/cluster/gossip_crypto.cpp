#include "troupe/cluster/gossip_crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

namespace troupe::cluster {
namespace {

constexpr std::uint8_t magic = 0xE2;  // sealed gossip, format version 2
constexpr std::string_view aad_label = "troupe-gossip-v2";
constexpr std::string_view kdf_label = "troupe-gossip-v2 sender";
constexpr std::size_t id_size = 8;
constexpr std::size_t counter_size = 8;
constexpr std::size_t header_size = 1 + id_size + counter_size;
constexpr std::size_t tag_size = 16;
constexpr std::size_t nonce_size = 12;
static_assert(gossip_cipher::overhead == header_size + tag_size);
static_assert(gossip_cipher::window % 64 == 0);
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

void check(int rc) {
  if (rc != 1) throw std::bad_alloc();
}

void secure_random(std::byte* out, std::size_t n) {
  if (RAND_bytes(uc(out), static_cast<int>(n)) != 1) {
    std::fputs("troupe: the cryptographic random generator failed (no entropy)\n", stderr);
    std::abort();
  }
}

std::uint64_t random_id() {
  std::array<std::byte, id_size> b;
  secure_random(b.data(), b.size());
  return get_be(b.data(), b.size());
}

/// A key wiped when it goes out of scope.
struct scoped_key {
  gossip_key k;
  ~scoped_key() { OPENSSL_cleanse(k.data(), k.size()); }
};

/// The key one sender's packets are sealed with under `key`: HKDF-Expand
/// (RFC 5869) with `key` as the pseudorandom key (it is uniformly random
/// already, so no extract step) and "troupe-gossip-v2 sender" | sender as the
/// info, one block of HMAC-SHA-256.
void derive(const gossip_key& key, std::uint64_t sender, gossip_key& out) {
  std::array<std::byte, kdf_label.size() + id_size + 1> info;
  std::copy_n(reinterpret_cast<const std::byte*>(kdf_label.data()), kdf_label.size(), info.begin());
  put_be(info.data() + kdf_label.size(), sender, id_size);
  info.back() = std::byte{1};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), uc(info.data()), info.size(),
           uc(out.data()), &len) == nullptr ||
      len != out.size())
    throw std::bad_alloc();
}

/// The nonce of a packet: four zero bytes, then its counter.
std::array<std::byte, nonce_size> nonce_of(std::uint64_t counter) noexcept {
  std::array<std::byte, nonce_size> n{};
  put_be(n.data() + (nonce_size - counter_size), counter, counter_size);
  return n;
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

/// The associated data: the label, the packet's header, the cluster name.
template <auto Update>
void feed_aad(EVP_CIPHER_CTX* c, std::span<const std::byte> header, std::string_view cluster) {
  update<Update>(c, nullptr, std::as_bytes(std::span(aad_label)));
  update<Update>(c, nullptr, header);
  update<Update>(c, nullptr, std::as_bytes(std::span(cluster)));
}

/// Decrypts `body` into `out` (same size) under `key`; returns whether `tag`
/// verifies. Throws std::bad_alloc only if OpenSSL fails for want of memory.
bool aes_gcm_open(EVP_CIPHER_CTX* c, const gossip_key& key, std::span<const std::byte> nonce,
                  std::span<const std::byte> header, std::string_view cluster,
                  std::span<const std::byte> body, std::span<const std::byte> tag, std::byte* out) {
  check(EVP_CIPHER_CTX_reset(c));
  check(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  check(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr));
  check(EVP_DecryptInit_ex(c, nullptr, nullptr, uc(key.data()), uc(nonce.data())));
  feed_aad<EVP_DecryptUpdate>(c, header, cluster);
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

result<std::vector<gossip_key>> parse_gossip_keys(std::string_view text) {
  std::vector<gossip_key> keys;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    auto k = parse_gossip_key(line);
    // The error names the line, never its text (a key is a secret).
    if (!k) {
      cleanse(keys);
      return error(errc::invalid_argument, where + k.error().detail());
    }
    const bool again = std::any_of(keys.begin(), keys.end(),
                                   [&](const gossip_key& have) { return keys_equal(have, *k); });
    keys.push_back(*k);
    OPENSSL_cleanse(k->data(), k->size());
    if (again) {
      cleanse(keys);
      return error(errc::invalid_argument, where + "a key given twice");
    }
  }
  if (keys.empty()) return error(errc::invalid_argument, "no gossip key given");
  return keys;
}

gossip_key make_gossip_key() {
  gossip_key k;
  secure_random(k.data(), k.size());
  return k;
}

// ---- keyring -----------------------------------------------------------------

gossip_keyring::gossip_keyring(const gossip_key& primary) : keys_{primary} {}

result<std::shared_ptr<gossip_keyring>> gossip_keyring::make(std::span<const gossip_key> keys) {
  if (keys.empty()) return error(errc::invalid_argument, "a gossip keyring needs a key");
  auto ring = std::make_shared<gossip_keyring>(keys.front());
  for (const gossip_key& k : keys.subspan(1)) ring->install(k);
  return ring;
}

gossip_keyring::~gossip_keyring() { cleanse(keys_); }

std::size_t gossip_keyring::find(const gossip_key& k) const noexcept {
  for (std::size_t i = 0; i < keys_.size(); ++i)
    if (keys_equal(keys_[i], k)) return i;
  return keys_.size();
}

bool gossip_keyring::contains(const gossip_key& k) const {
  std::lock_guard lock(mu_);
  return find(k) != keys_.size();
}

gossip_key gossip_keyring::primary() const {
  std::lock_guard lock(mu_);
  return keys_.front();
}

std::vector<gossip_key> gossip_keyring::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

void gossip_keyring::install(const gossip_key& k) {
  std::lock_guard lock(mu_);
  if (find(k) != keys_.size()) return;
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
  std::lock_guard lock(mu_);
  const std::size_t i = find(k);
  if (i == keys_.size()) return error(errc::invalid_argument, "gossip key not installed");
  std::rotate(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(i),
              keys_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  return {};
}

result<void> gossip_keyring::remove(const gossip_key& k) {
  std::lock_guard lock(mu_);
  const std::size_t i = find(k);
  if (i == keys_.size()) return error(errc::invalid_argument, "gossip key not installed");
  if (i == 0) return error(errc::invalid_argument, "cannot remove the primary gossip key");
  std::rotate(keys_.begin() + static_cast<std::ptrdiff_t>(i),
              keys_.begin() + static_cast<std::ptrdiff_t>(i) + 1, keys_.end());
  OPENSSL_cleanse(&keys_.back(), sizeof(gossip_key));
  keys_.pop_back();
  return {};
}

result<void> gossip_keyring::assign(std::span<const gossip_key> keys) {
  if (keys.empty()) return error(errc::invalid_argument, "a gossip keyring needs a key");
  std::vector<gossip_key> fresh;
  fresh.reserve(keys.size());
  for (const gossip_key& k : keys)
    if (std::none_of(fresh.begin(), fresh.end(),
                     [&](const gossip_key& have) { return keys_equal(have, k); }))
      fresh.push_back(k);
  std::lock_guard lock(mu_);
  cleanse(keys_);
  keys_.swap(fresh);
  return {};
}

// ---- cipher ------------------------------------------------------------------

void gossip_cipher::ctx_free::operator()(evp_cipher_ctx_st* c) const noexcept {
  EVP_CIPHER_CTX_free(c);
}

gossip_cipher::gossip_cipher(std::string cluster_name, std::shared_ptr<gossip_keyring> keys,
                             std::size_t max_senders)
    : cluster_name_(std::move(cluster_name)),
      keys_(std::move(keys)),
      max_senders_(std::max<std::size_t>(1, max_senders)),
      sender_id_(random_id()),
      ctx_(EVP_CIPHER_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
}

gossip_cipher::~gossip_cipher() = default;

std::vector<std::byte> gossip_cipher::seal(std::span<const std::byte> plaintext) {
  if (counter_ == UINT64_MAX) {  // never in practice: become a new sender
    sender_id_ = random_id();
    counter_ = 1;
  }
  const std::uint64_t counter = counter_++;
  std::vector<std::byte> out(overhead + plaintext.size());
  out[0] = static_cast<std::byte>(magic);
  put_be(out.data() + 1, sender_id_, id_size);
  put_be(out.data() + 1 + id_size, counter, counter_size);
  const auto header = std::span<const std::byte>(out).first(header_size);
  const auto nonce = nonce_of(counter);

  scoped_key key;
  {
    std::lock_guard lock(keys_->mu_);
    derive(keys_->keys_.front(), sender_id_, key.k);
  }
  EVP_CIPHER_CTX* c = ctx_.get();
  check(EVP_CIPHER_CTX_reset(c));
  check(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  check(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr));
  check(EVP_EncryptInit_ex(c, nullptr, nullptr, uc(key.k.data()), uc(nonce.data())));
  feed_aad<EVP_EncryptUpdate>(c, header, cluster_name_);
  update<EVP_EncryptUpdate>(c, out.data() + header_size, plaintext);
  int len = 0;
  check(EVP_EncryptFinal_ex(c, nullptr, &len));
  check(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
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

  const std::uint64_t sender = get_be(wire.data() + 1, id_size);
  const std::uint64_t counter = get_be(wire.data() + 1 + id_size, counter_size);
  const auto header = wire.first(header_size);
  const auto body = wire.subspan(header_size, wire.size() - overhead);
  const auto tag = wire.last(tag_size);
  const auto nonce = nonce_of(counter);
  std::vector<std::byte> plain(body.size());
  bool authentic = false;
  {
    scoped_key key;
    std::lock_guard lock(keys_->mu_);
    for (const gossip_key& k : keys_->keys_) {
      derive(k, sender, key.k);
      if (aes_gcm_open(ctx_.get(), key.k, nonce, header, cluster_name_, body, tag, plain.data())) {
        authentic = true;
        break;
      }
    }
  }
  if (!authentic) {
    ++stats_.rejected_auth;
    return error(errc::unauthorized,
                 "gossip packet failed authentication (wrong key or cluster name, or altered)");
  }
  if (const char* why = check_replay(sender, counter)) {
    ++stats_.rejected_replay;
    return error(errc::unauthorized, why);
  }
  record(sender, counter);
  ++stats_.opened;
  return plain;
}

namespace {

constexpr std::size_t word_of(std::uint64_t counter) noexcept {
  return static_cast<std::size_t>((counter % gossip_cipher::window) / 64);
}
constexpr std::uint64_t bit_of(std::uint64_t counter) noexcept {
  return std::uint64_t{1} << (counter % 64);
}

}  // namespace

const char* gossip_cipher::check_replay(std::uint64_t sender, std::uint64_t counter) const {
  const auto it = senders_.find(sender);
  if (it == senders_.end()) return nullptr;  // a new sender (or a new life)
  const replay_state& s = it->second;
  if (counter > s.top) return nullptr;
  if (s.top - counter >= window) return "replay: gossip packet below its sender's window";
  if ((s.seen[word_of(counter)] & bit_of(counter)) != 0)
    return "replay: gossip packet already accepted";
  return nullptr;
}

void gossip_cipher::record(std::uint64_t sender, std::uint64_t counter) {
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    if (senders_.size() >= max_senders_) {
      senders_.erase(lru_.back());
      lru_.pop_back();
      ++stats_.senders_evicted;
    }
    lru_.push_front(sender);
    it = senders_.emplace(sender, replay_state{counter, {}, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  replay_state& s = it->second;
  if (counter > s.top) {
    // Forget the counters that slide out of the window: their bits now
    // stand for the counters just above the old top.
    const std::uint64_t ahead = counter - s.top;
    if (ahead >= window) {
      s.seen.fill(0);
    } else {
      for (std::uint64_t i = 1; i <= ahead; ++i) s.seen[word_of(s.top + i)] &= ~bit_of(s.top + i);
    }
    s.top = counter;
  }
  s.seen[word_of(counter)] |= bit_of(counter);
}

}  // namespace troupe::cluster
