// corodb: the command-line tool. `corodb help` lists the subcommands.
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return corodb::cli::Main(args, std::cout, std::cerr);
}
