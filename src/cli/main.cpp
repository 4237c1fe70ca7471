// emgan command-line entry point: turns arguments into settings structs and calls
// the library. Every error is caught here once, printed to stderr, exit status 1.
#include <iostream>

#include "cli.h"
#include "emgan/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"emgan: generative deep learning for electron microscopy and materials imaging"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  try {
    const emgan::cli::Context ctx = emgan::cli::prescan(argc, argv);
    emgan::cli::register_info(app, ctx);
    emgan::cli::register_convert(app, ctx);
    emgan::cli::register_metrics(app, ctx);
    emgan::cli::register_translate(app, ctx);
    // Workflow domains a development build may leave out (CMake EMGAN_WORKFLOWS).
#ifdef EMGAN_WITH_MICRO
    emgan::cli::register_micro(app, ctx);
#endif
#ifdef EMGAN_WITH_GENERATE
    emgan::cli::register_generate(app, ctx);
#endif
#ifdef EMGAN_WITH_RESTORE
    emgan::cli::register_scanpath(app, ctx);
    emgan::cli::register_restore(app, ctx);
#endif
#ifdef EMGAN_WITH_SEGMENT
    emgan::cli::register_phantom(app, ctx);
    emgan::cli::register_segment(app, ctx);
#endif
#ifdef EMGAN_WITH_ORIENT
    emgan::cli::register_orient(app, ctx);
#endif
    emgan::cli::register_demo(app, ctx);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "emgan: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
