# SCGenConfig.cmake: lets a CMake project find scgen with
#
#   find_package(SCGen CONFIG REQUIRED)   # with SCGen_DIR or CMAKE_PREFIX_PATH
#
# and generate SoftwareContainer's LXC config, rootfs skeleton and lxc-create
# drop-in at build time:
#
#   scgen_generate(PROFILE <file> OUTPUT_DIR <dir>
#                  [TARGET <name>] [SET <key=value>...] [TEMPLATES <dir>]
#                  [INSTALL [COMPONENT <component>]])
#
# PROFILE and TEMPLATES are relative to CMAKE_CURRENT_SOURCE_DIR, OUTPUT_DIR
# to CMAKE_CURRENT_BINARY_DIR. TARGET (default: scgen-<profile stem>) is an
# ALL target; it carries the properties SCGEN_OUTPUT_DIR and SCGEN_ARTIFACTS.
# The custom command lists the seven artifacts as OUTPUT and reads scgen's
# depfile, so touching the profile, a profile it `extends`, its busybox.links
# file or an override template reruns scgen, and nothing else does. scgen
# leaves unchanged artifacts alone (same bytes, same mtime); Ninja's restat
# then skips whatever depends on them.
#
# SOURCE_DATE_EPOCH, if set in the environment when CMake configures, is
# passed to scgen; otherwise it is removed from scgen's environment so the
# build environment cannot change the output behind CMake's back.
#
# INSTALL adds install rules (GNUInstallDirs, relative to the install prefix,
# DESTDIR honoured):
#   ${CMAKE_INSTALL_DATADIR}/softwarecontainer/lxc-templates/lxc-softwarecontainer (0755)
#   ${CMAKE_INSTALL_SYSCONFDIR}/softwarecontainer/softwarecontainer.conf
#   ${CMAKE_INSTALL_DATADIR}/softwarecontainer/scgen/<all seven artifacts>
# and passes `--set install.prefix=${CMAKE_INSTALL_PREFIX}`, and likewise
# install.bindir and install.datadir from GNUInstallDirs, before your SET
# values, because the drop-in runs <bindir>/scgen with the artifacts in
# <datadir>/softwarecontainer/scgen. A SET of yours wins.
#
# Cache variable: SCGEN_EXECUTABLE, the scgen binary (found on PATH, or next
# to this file's install location). Imported target: SCGen::scgen.

if(CMAKE_VERSION VERSION_LESS 3.20)
  set(SCGen_FOUND FALSE)
  set(SCGen_NOT_FOUND_MESSAGE
      "scgen_generate() needs CMake >= 3.20 (DEPFILE with Makefile generators, CMP0116); this is ${CMAKE_VERSION}")
  return()
endif()

find_program(SCGEN_EXECUTABLE
  NAMES scgen
  PATHS "${CMAKE_CURRENT_LIST_DIR}/../bin" "${CMAKE_CURRENT_LIST_DIR}/../../../bin"
  DOC "The scgen executable (SoftwareContainer config and rootfs generator)")

if(NOT SCGEN_EXECUTABLE)
  set(SCGen_FOUND FALSE)
  set(SCGen_NOT_FOUND_MESSAGE
      "scgen executable not found: install it (cargo install --path <scgen checkout>) or pass -DSCGEN_EXECUTABLE=/path/to/scgen")
  return()
endif()

if(NOT TARGET SCGen::scgen)
  add_executable(SCGen::scgen IMPORTED)
  set_target_properties(SCGen::scgen PROPERTIES IMPORTED_LOCATION "${SCGEN_EXECUTABLE}")
endif()

# Record modern policies with the function (functions keep the policies in
# effect where they are defined): CMP0116 NEW makes the Ninja generator
# rewrite depfile paths relative to the build tree, as Ninja expects.
cmake_policy(PUSH)
cmake_policy(VERSION 3.20...3.31)

function(scgen_generate)
  cmake_parse_arguments(PARSE_ARGV 0 _scgen
    "INSTALL" "PROFILE;OUTPUT_DIR;TARGET;TEMPLATES;COMPONENT" "SET")
  if(_scgen_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "scgen_generate: unknown arguments: ${_scgen_UNPARSED_ARGUMENTS}")
  endif()
  foreach(_req PROFILE OUTPUT_DIR)
    if(NOT _scgen_${_req})
      message(FATAL_ERROR "scgen_generate: ${_req} is required")
    endif()
  endforeach()

  cmake_path(ABSOLUTE_PATH _scgen_PROFILE BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
  cmake_path(ABSOLUTE_PATH _scgen_OUTPUT_DIR BASE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}" NORMALIZE)
  string(REGEX REPLACE "(.)/+$" "\\1" _scgen_OUTPUT_DIR "${_scgen_OUTPUT_DIR}") # no trailing /
  if(NOT EXISTS "${_scgen_PROFILE}" OR IS_DIRECTORY "${_scgen_PROFILE}")
    message(FATAL_ERROR "scgen_generate: profile ${_scgen_PROFILE} does not exist")
  endif()
  cmake_path(GET _scgen_PROFILE STEM LAST_ONLY _stem)
  if(NOT _scgen_TARGET)
    set(_scgen_TARGET "scgen-${_stem}")
  endif()

  # The artifact names (contract::ALL in src/contract.rs, checked by
  # tests/tidy.rs), in the order scgen writes them
  # into its depfile: Ninja compares the first target of a depfile with the
  # first OUTPUT of the rule and reruns the rule forever if they differ.
  set(_names
    lxc-softwarecontainer
    rootfs.mtree
    rootfs.tar.gz
    seccomp.policy
    softwarecontainer.conf
    stage.toml
    SHA256SUMS)
  set(_outputs "")
  foreach(_name IN LISTS _names)
    list(APPEND _outputs "${_scgen_OUTPUT_DIR}/${_name}")
  endforeach()

  # Arguments. The prefix set by INSTALL goes first so a SET of the caller wins.
  set(_args gen --profile "${_scgen_PROFILE}" --out "${_scgen_OUTPUT_DIR}")
  if(_scgen_INSTALL)
    if(NOT DEFINED CMAKE_INSTALL_LIBDIR AND NOT DEFINED CMAKE_SIZEOF_VOID_P)
      # A LANGUAGES NONE project: GNUInstallDirs would warn that it cannot
      # pick a libdir. None is installed here; keep the value local.
      set(CMAKE_INSTALL_LIBDIR lib)
    endif()
    include(GNUInstallDirs)
    list(APPEND _args
      --set "install.prefix=${CMAKE_INSTALL_PREFIX}"
      --set "install.bindir=${CMAKE_INSTALL_BINDIR}"
      --set "install.datadir=${CMAKE_INSTALL_DATADIR}")
  endif()
  foreach(_set IN LISTS _scgen_SET)
    if(NOT _set MATCHES "^[^=]+=")
      message(FATAL_ERROR "scgen_generate: SET ${_set}: expected key=value")
    endif()
    list(APPEND _args --set "${_set}")
  endforeach()

  set(_depends "${_scgen_PROFILE}" "${SCGEN_EXECUTABLE}")
  if(_scgen_TEMPLATES)
    cmake_path(ABSOLUTE_PATH _scgen_TEMPLATES BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
    if(NOT IS_DIRECTORY "${_scgen_TEMPLATES}")
      message(FATAL_ERROR "scgen_generate: TEMPLATES ${_scgen_TEMPLATES} is not a directory")
    endif()
    list(APPEND _args --templates "${_scgen_TEMPLATES}")
    # The depfile names the override templates that exist; the glob also
    # catches one added later (CMake re-globs before each build).
    file(GLOB _templates CONFIGURE_DEPENDS "${_scgen_TEMPLATES}/*.j2")
    list(APPEND _depends ${_templates})
  endif()

  set(_env_args "")
  if(NOT "$ENV{SOURCE_DATE_EPOCH}" STREQUAL "")
    if(NOT "$ENV{SOURCE_DATE_EPOCH}" MATCHES "^[0-9]+$")
      message(FATAL_ERROR "scgen_generate: SOURCE_DATE_EPOCH='$ENV{SOURCE_DATE_EPOCH}' is not a whole number of seconds")
    endif()
    list(APPEND _env_args "SOURCE_DATE_EPOCH=$ENV{SOURCE_DATE_EPOCH}")
  else()
    list(APPEND _env_args "--unset=SOURCE_DATE_EPOCH")
  endif()

  # A file holding the exact command: Ninja reruns a rule whose command
  # changed, Make does not, so the rule also depends on this file, which is
  # rewritten only when the command changes.
  set(_stamp "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${_scgen_TARGET}.scgen-command")
  string(REPLACE ";" "\n" _command_text "${_env_args};${SCGEN_EXECUTABLE};${_args}")
  set(_old "")
  if(EXISTS "${_stamp}")
    file(READ "${_stamp}" _old)
  endif()
  if(NOT _old STREQUAL "${_command_text}\n")
    file(WRITE "${_stamp}" "${_command_text}\n")
  endif()
  list(APPEND _depends "${_stamp}")

  set(_depfile "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${_scgen_TARGET}.scgen.d")
  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND "${CMAKE_COMMAND}" -E env ${_env_args}
            "${SCGEN_EXECUTABLE}" ${_args} --depfile "${_depfile}"
    DEPENDS ${_depends}
    DEPFILE "${_depfile}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}"
    COMMENT "scgen: generating ${_stem} into ${_scgen_OUTPUT_DIR}"
    VERBATIM)
  add_custom_target(${_scgen_TARGET} ALL DEPENDS ${_outputs})
  set_target_properties(${_scgen_TARGET} PROPERTIES
    SCGEN_OUTPUT_DIR "${_scgen_OUTPUT_DIR}"
    SCGEN_ARTIFACTS "${_outputs}")

  if(_scgen_INSTALL)
    get_property(_other GLOBAL PROPERTY SCGEN_INSTALLED_BY)
    if(_other)
      message(FATAL_ERROR
        "scgen_generate: ${_other} already installs softwarecontainer.conf and the drop-in; "
        "use INSTALL on one profile only")
    endif()
    set_property(GLOBAL PROPERTY SCGEN_INSTALLED_BY "${_scgen_TARGET}")
    set(_component "")
    if(_scgen_COMPONENT)
      set(_component COMPONENT "${_scgen_COMPONENT}")
    endif()
    set(_dir "${_scgen_OUTPUT_DIR}")
    install(PROGRAMS "${_dir}/lxc-softwarecontainer"
      DESTINATION "${CMAKE_INSTALL_DATADIR}/softwarecontainer/lxc-templates" ${_component})
    install(FILES "${_dir}/softwarecontainer.conf"
      DESTINATION "${CMAKE_INSTALL_SYSCONFDIR}/softwarecontainer" ${_component})
    install(PROGRAMS "${_dir}/lxc-softwarecontainer"
      DESTINATION "${CMAKE_INSTALL_DATADIR}/softwarecontainer/scgen" ${_component})
    set(_plain ${_outputs})
    list(REMOVE_ITEM _plain "${_dir}/lxc-softwarecontainer")
    install(FILES ${_plain}
      DESTINATION "${CMAKE_INSTALL_DATADIR}/softwarecontainer/scgen" ${_component})
  endif()
endfunction()

cmake_policy(POP)

set(SCGen_FOUND TRUE)
