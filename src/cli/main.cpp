// emgan command-line entry point: turns arguments into settings and calls the library.
#include <iostream>

#include "emgan/core/error.h"
#include "emgan/core/runtime.h"

int main(int argc, char** argv) {
  try {
    if (argc > 1 && std::string(argv[1]) == "info") {
      std::cout << emgan::describe_runtime();
      return 0;
    }
    std::cerr << "usage: emgan info\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "emgan: error: " << e.what() << "\n";
    return 1;
  }
}
