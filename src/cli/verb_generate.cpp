// Placeholder: the verbs of this workflow are not registered yet.
#include "cli.h"

namespace emgan::cli {

void register_generate(CLI::App& /*root*/, const Context& /*ctx*/) {}

}  // namespace emgan::cli
