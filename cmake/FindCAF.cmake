# FindCAF.cmake -- locates the C++ Actor Framework 0.17 as Debian packages it.
#
# Debian's libcaf-dev ships neither a CMake config nor a pkg-config file, so
# this module finds the headers and libraries itself and defines imported
# targets named like those of newer CAF releases:
#
#   CAF::core     libcaf_core
#   CAF::io       libcaf_io (the middleman)
#   CAF::openssl  libcaf_openssl
#
# It sets CAF_FOUND, CAF_VERSION and CAF_INCLUDE_DIR. The version is read from
# the real file name of the core library (libcaf_core.so.0.17.6).

find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp)

set(_caf_components core io openssl)
foreach(_comp IN LISTS _caf_components)
  find_library(CAF_${_comp}_LIBRARY NAMES caf_${_comp})
endforeach()

if(CAF_core_LIBRARY)
  get_filename_component(_caf_real "${CAF_core_LIBRARY}" REALPATH)
  get_filename_component(_caf_name "${_caf_real}" NAME)
  if(_caf_name MATCHES "\\.so\\.([0-9]+\\.[0-9]+\\.[0-9]+)$")
    set(CAF_VERSION "${CMAKE_MATCH_1}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY CAF_io_LIBRARY
  VERSION_VAR CAF_VERSION)

if(CAF_FOUND)
  find_package(Threads REQUIRED)
  foreach(_comp IN LISTS _caf_components)
    if(CAF_${_comp}_LIBRARY AND NOT TARGET CAF::${_comp})
      add_library(CAF::${_comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${_comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${_comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
    endif()
  endforeach()
  set_property(TARGET CAF::core APPEND PROPERTY
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  set_property(TARGET CAF::io APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
  if(TARGET CAF::openssl)
    set_property(TARGET CAF::openssl APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES CAF::io)
  endif()
endif()
mark_as_advanced(CAF_INCLUDE_DIR CAF_core_LIBRARY CAF_io_LIBRARY
                 CAF_openssl_LIBRARY)
