# OpenBLAS (Debian's OpenMP build) and OpenMP, with messages naming the
# Debian packages when they are missing. Nothing is downloaded.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR "OpenBLAS not found: install it with 'apt-get install libopenblas-openmp-dev'")
endif()

# Debian installs one cblas.h per OpenBLAS variant; prefer the OpenMP one so
# the header matches the library that shares our OpenMP runtime.
find_path(COLCONV_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas-openmp openblas
  PATHS /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu)
if(NOT COLCONV_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found: install it with 'apt-get install libopenblas-openmp-dev'")
endif()

find_package(OpenMP COMPONENTS C)
if(NOT OpenMP_C_FOUND)
  message(FATAL_ERROR "OpenMP not found for the C compiler (gcc ships it; for clang: 'apt-get install libomp-dev')")
endif()
