#include "troupe/core/discovery.hpp"

#include <string>

#include "troupe/core/process_groups.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/core/registry.hpp"

namespace troupe {

std::string_view to_string(visibility v) noexcept {
  switch (v) {
    case visibility::public_:
      return "public";
    case visibility::internal:
      return "internal";
    case visibility::private_:
      return "private";
  }
  return "unknown";
}

namespace {

error invalid(std::string_view what, std::string_view why) {
  std::string text(why);
  text += ": \"";
  text += what.substr(0, 64);
  if (what.size() > 64) text += "...";
  text += '"';
  return error(errc::invalid_name, std::move(text));
}

bool label_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':';
}

}  // namespace

result<void> validate_name(std::string_view name) {
  if (name.empty()) return error(errc::invalid_name, "empty name");
  if (name.size() > max_name_length) return invalid(name, "longer than 255 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid(name, "control character");
  }
  return {};
}

result<void> validate_label(std::string_view label) {
  if (label.empty()) return error(errc::invalid_name, "empty label");
  if (label.size() > max_name_length) return invalid(label, "longer than 255 bytes");
  if (label.front() == '/') return invalid(label, "leading '/'");
  if (label.back() == '/') return invalid(label, "trailing '/'");
  char prev = 0;
  for (char c : label) {
    if (c == '/') {
      if (prev == '/') return invalid(label, "empty segment");
    } else if (!label_char(c)) {
      return invalid(label, "character outside [A-Za-z0-9._:-/]");
    }
    prev = c;
  }
  return {};
}

void subscription::cancel() noexcept {
  if (id_ == 0) return;
  const std::uint64_t id = std::exchange(id_, 0);
  if (from_ == source::receptionist) {
    core_->receptionist().remove_sink(id);
  } else {
    core_->groups().remove_monitor(id);
  }
  core_.reset();
}

namespace detail {

result<void> register_spawned(system_core& core, std::string_view name, std::string_view label,
                              const ref_ptr<actor_handle>& actor, actor_type type) {
  if (!name.empty()) {
    result<entry_stamp> r = core.registry().add_handle(name, actor, type);
    if (!r) return r.error();
  }
  if (!label.empty()) {
    result<entry_stamp> r =
        core.receptionist().check_in_handle(label, actor, type, {}, visibility::public_);
    // The name registered above goes when the caller abandons the actor.
    if (!r) return r.error();
  }
  return {};
}

}  // namespace detail

}  // namespace troupe
