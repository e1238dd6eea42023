// CAF 0.17.6 inspectors for the codec benchmarks' message
// (codec_message.hpp), shared by caf_codec_encode.cpp and
// caf_codec_decode.cpp.
#pragma once

#include <optional>

#include "caf/all.hpp"

#include "codec_message.hpp"

namespace bench {

/// Makes a std::optional inspectable: CAF 0.17 only knows caf::optional.
/// Written like CAF's own inspect for caf::optional (a flag, then the value
/// if there is one), but loading straight into the optional rather than
/// through a temporary and a scope guard.
template <class T>
struct caf_optional_field {
  std::optional<T>& x;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, caf_optional_field<T>& field) {
  if constexpr (Inspector::reads_state) {
    bool flag = field.x.has_value();
    return flag ? f(flag, *field.x) : f(flag);
  } else {
    bool flag = false;
    if (auto err = f(flag)) return err;
    if (!flag) {
      field.x.reset();
      return caf::none;
    }
    return f(field.x.emplace());
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, codec_details& x) {
  caf_optional_field<std::int32_t> code{x.code};
  return f(caf::meta::type_name("codec_details"), code, x.counts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, codec_message& x) {
  return f(caf::meta::type_name("codec_message"), x.name, x.samples, x.details);
}

}  // namespace bench
