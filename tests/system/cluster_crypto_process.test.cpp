#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "member_process.hpp"

// Gossip encryption between real processes on loopback (`troupe node
// --gossip-key-file`): members holding the cluster's key join, a member with
// another key never does (the others drop and count its packets), and a bad
// key file is refused at start.

namespace system_test {
namespace {

using namespace std::chrono_literals;

/// A directory of key files, written by the test and removed after it.
class key_files {
 public:
  key_files() {
    char tmpl[] = "/tmp/troupe-gossip-keys-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~key_files() {
    for (const auto& f : files_) ::unlink(f.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  key_files(const key_files&) = delete;
  key_files& operator=(const key_files&) = delete;

  /// Writes `text` to a new file only its owner may read; returns its path.
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    {
      std::ofstream out(path, std::ios::binary);
      out << text;
    }
    ::chmod(path.c_str(), 0600);
    files_.push_back(path);
    return path;
  }
  [[nodiscard]] bool ok() const { return !dir_.empty(); }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

// Two 32-byte keys: one in hex, one in base64.
constexpr const char* cluster_key =
    "8f0c2a51d7e3946b1a0f5c3e7d2b8a6904e1f7c3b5a2d8e6f0c4a9b1d3e5f708";
constexpr const char* other_key = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";

std::vector<std::string> encrypted_with(const std::string& key_file) {
  return {"--gossip-key-file", key_file, "--cluster-name", "system-test"};
}

TEST(cluster_crypto_process, members_with_the_key_join_and_one_with_another_key_never_does) {
  key_files keys;
  ASSERT_TRUE(keys.ok());
  const std::string good =
      keys.write("cluster.key", std::string("# the cluster's gossip key\n") + cluster_key + "\n");
  const std::string other = keys.write("other.key", std::string(other_key) + "\n");

  std::vector<std::unique_ptr<member_process>> m;
  m.push_back(std::make_unique<member_process>("m0", "127.0.0.1:0", "", std::vector<std::string>{},
                                               encrypted_with(good)));
  const std::string seed = json_field(m[0]->wait_for("started", "m0", 10s), "address");
  ASSERT_FALSE(seed.empty()) << m[0]->transcript();
  m.push_back(std::make_unique<member_process>("m1", "127.0.0.1:0", seed,
                                               std::vector<std::string>{}, encrypted_with(good)));
  m.push_back(std::make_unique<member_process>("m2", "127.0.0.1:0", seed,
                                               std::vector<std::string>{}, encrypted_with(other)));
  const auto report = [&] {
    std::string all;
    for (std::size_t i = 0; i < m.size(); ++i)
      all += "--- m" + std::to_string(i) + " printed:\n" + m[i]->transcript();
    return all;
  };

  EXPECT_FALSE(m[0]->wait_for("joined", "m1", 15s).empty()) << report();
  EXPECT_FALSE(m[1]->wait_for("joined", "m0", 15s).empty()) << report();
  EXPECT_FALSE(m[1]->wait_for("session_up", "m0", 10s).empty()) << report();
  ASSERT_FALSE(m[2]->wait_for("started", "m2", 10s).empty()) << report();

  // m2 keeps sending its seed full-state exchanges (every second in the lan
  // profile); give it several tries.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(m[0]->count("joined", "m2"), 0u) << report();
  EXPECT_EQ(m[1]->count("joined", "m2"), 0u) << report();
  EXPECT_TRUE(m[2]->wait_for("joined", "", 0ms).empty()) << report();
  for (std::size_t i : {0, 1}) {
    const std::string peer = i == 0 ? "m1" : "m0";
    EXPECT_EQ(m[i]->count("suspect", peer) + m[i]->count("dead", peer), 0u) << report();
  }

  // The seed received m2's packets, dropped them and counted them.
  m[0]->say("stats");
  const std::string stats = m[0]->wait_for("stats", "", 5s);
  ASSERT_FALSE(stats.empty()) << report();
  EXPECT_GE(std::stoull(json_field(stats, "dropped_unauthentic")), 2u) << stats;
  EXPECT_EQ(json_field(stats, "dropped_replays"), "0") << stats;
  EXPECT_GT(std::stoull(json_field(stats, "packets_received")), 0u) << stats;

  m[1]->say("leave");
  EXPECT_FALSE(m[0]->wait_for("left", "m1", 10s).empty()) << report();
  EXPECT_EQ(m[1]->wait_exit(10s), 0);
  for (auto& p : m) p->kill_now();
}

/// Waits (bounded) until `p` printed `n` lines with event `event`.
bool wait_count(member_process& p, const std::string& event, std::size_t n,
                std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (p.count(event, "") < n) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST(cluster_crypto_process, keys_rotate_on_sighup_without_a_false_suspicion) {
  key_files keys;
  ASSERT_TRUE(keys.ok());
  const std::string a = cluster_key, b = other_key;
  // Each member reads a file of its own, as on hosts of their own.
  std::vector<std::string> files = {keys.write("m0.key", a + "\n"), keys.write("m1.key", a + "\n")};
  std::vector<std::unique_ptr<member_process>> m;
  m.push_back(std::make_unique<member_process>("m0", "127.0.0.1:0", "", std::vector<std::string>{},
                                               encrypted_with(files[0])));
  const std::string seed = json_field(m[0]->wait_for("started", "m0", 10s), "address");
  ASSERT_FALSE(seed.empty()) << m[0]->transcript();
  m.push_back(std::make_unique<member_process>(
      "m1", "127.0.0.1:0", seed, std::vector<std::string>{}, encrypted_with(files[1])));
  const auto report = [&] {
    std::string all;
    for (std::size_t i = 0; i < m.size(); ++i)
      all += "--- m" + std::to_string(i) + " printed:\n" + m[i]->transcript();
    return all;
  };
  ASSERT_FALSE(m[0]->wait_for("joined", "m1", 15s).empty()) << report();
  ASSERT_FALSE(m[1]->wait_for("joined", "m0", 15s).empty()) << report();

  // The three steps, each on one member and then the other, with gossip
  // flowing in between: install the new key, use it, remove the old one.
  std::size_t reloads = 0;
  for (const std::string& text : {a + "\n" + b + "\n", b + "\n" + a + "\n", b + "\n"}) {
    ++reloads;
    for (std::size_t i : {0, 1}) {
      keys.write("m" + std::to_string(i) + ".key", text);
      m[i]->signal(SIGHUP);
      ASSERT_TRUE(wait_count(*m[i], "keys_reloaded", reloads, 5s)) << report();
      std::this_thread::sleep_for(1s);
    }
  }
  std::this_thread::sleep_for(2s);
  for (std::size_t i : {0, 1}) {
    const std::string peer = i == 0 ? "m1" : "m0";
    EXPECT_EQ(m[i]->count("suspect", peer) + m[i]->count("dead", peer), 0u) << report();
  }

  // The cluster now speaks the new key only.
  const std::string new_only = keys.write("new.key", b + "\n");
  const std::string old_only = keys.write("old.key", a + "\n");
  m.push_back(std::make_unique<member_process>(
      "m2", "127.0.0.1:0", seed, std::vector<std::string>{}, encrypted_with(new_only)));
  m.push_back(std::make_unique<member_process>(
      "m3", "127.0.0.1:0", seed, std::vector<std::string>{}, encrypted_with(old_only)));
  EXPECT_FALSE(m[0]->wait_for("joined", "m2", 15s).empty()) << report();
  EXPECT_FALSE(m[2]->wait_for("joined", "m1", 15s).empty()) << report();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(m[0]->count("joined", "m3") + m[1]->count("joined", "m3"), 0u) << report();
  EXPECT_TRUE(m[3]->wait_for("joined", "", 0ms).empty()) << report();

  // A key file gone bad is reported, and the keys in use stay.
  keys.write("m0.key", "garbage\n");
  m[0]->signal(SIGHUP);
  EXPECT_FALSE(m[0]->wait_for("keys_reload_failed", "", 5s).empty()) << report();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(m[0]->count("suspect", "m1") + m[1]->count("suspect", "m0"), 0u) << report();
  for (auto& p : m) p->kill_now();
}

TEST(cluster_crypto_process, a_bad_key_file_is_refused_at_start) {
  key_files keys;
  ASSERT_TRUE(keys.ok());
  const std::string bad =
      keys.write("bad.key", std::string(cluster_key) + "\n" + "not-a-key-0123456789\n");
  member_process p("m0", "127.0.0.1:0", "", {}, encrypted_with(bad));
  EXPECT_EQ(p.wait_exit(10s), 2);
  p.kill_now();  // joins the reader: the transcript is complete
  const std::string said = p.transcript();
  EXPECT_NE(said.find("line 2"), std::string::npos) << said;
  EXPECT_EQ(said.find("not-a-key"), std::string::npos) << "the key file's text was echoed";
  EXPECT_EQ(said.find("\"started\""), std::string::npos) << said;

  member_process missing("m1", "127.0.0.1:0", "", {}, encrypted_with("/nonexistent/troupe.key"));
  EXPECT_EQ(missing.wait_exit(10s), 2);
}

}  // namespace
}  // namespace system_test
