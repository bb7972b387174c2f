#include "orch/engine/error.h"

#include <stdexcept>

namespace orch::engine {

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace orch::engine
