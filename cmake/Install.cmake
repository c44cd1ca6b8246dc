# Installation: headers, module libraries, a CMake package (corodb::corodb) and corodb.pc.
