# SCGenConfig.cmake: lets a CMake project find scgen with
#
#   find_package(SCGen CONFIG REQUIRED)   # with SCGen_DIR or CMAKE_PREFIX_PATH
#
# and generate SoftwareContainer's LXC config, rootfs skeleton and lxc-create
# drop-in at build time:
#
#   scgen_generate(PROFILE <file> OUTPUT_DIR <dir>
#                  [TARGET <name>] [SET <key=value>...] [TEMPLATES <dir>]
#                  [SOFTWARECONTAINER] [INSTALL [COMPONENT <component>] [SUBIDS]])
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
# SUBIDS (with INSTALL) also gives root, at install time, the subordinate ids
# of the profile's container.idmap (the lxc3 default is id-mapped) in
# ${DESTDIR}/etc/subuid and /etc/subgid, through `scgen subids --root`: LXC
# maps ids through newuidmap/newgidmap where they are installed, and they
# refuse ranges root lacks. Use it where the install goes onto the target's
# root filesystem (an image's root as DESTDIR, or the running system); a
# package that must not own /etc/subuid runs `scgen subids --artifacts
# <datadir>/softwarecontainer/scgen` in its postinst instead.
#
# SOFTWARECONTAINER takes SoftwareContainer's own CMake options into the
# profile, so the agent, its LXC config and the drop-in are built from the
# same switches (a network-enabled agent next to a gateway-off config fails
# with "Could not find interface eth0 in container"):
#   ENABLE_NETWORKGATEWAY (when defined)   -> network.gateway = true|false
#   SC_BRIDGE_DEVICE (when defined, non-empty) -> network.bridge
#   CMAKE_INSTALL_PREFIX, CMAKE_INSTALL_FULL_BINDIR, CMAKE_INSTALL_FULL_DATADIR
#                                          -> install.prefix, .bindir, .datadir
# and, with INSTALL, puts the drop-in and the config where SoftwareContainer
# installs its own: ${LXC_TEMPLATE_DIR} (the directory of the compiled-in
# LXCTEMPLATE; default ${CMAKE_INSTALL_FULL_DATAROOTDIR}/softwarecontainer/lxc-templates)
# and ${SYS_CONFIG_DIR} (default ${CMAKE_INSTALL_FULL_SYSCONFDIR}/softwarecontainer),
# the artifacts in ${CMAKE_INSTALL_FULL_DATADIR}/softwarecontainer/scgen.
# These are absolute, as SoftwareContainer's own are (so a prefix /usr puts
# the config in /etc). A SET of yours still wins; one that contradicts
# ENABLE_NETWORKGATEWAY or SC_BRIDGE_DEVICE gets a warning.
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
    "INSTALL;SOFTWARECONTAINER;SUBIDS" "PROFILE;OUTPUT_DIR;TARGET;TEMPLATES;COMPONENT" "SET")
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

  # Arguments. The prefix set by INSTALL or SOFTWARECONTAINER goes first so
  # a SET of the caller wins.
  # --quiet: the COMMENT below says what runs; a `wrote` line per artifact
  # on every build is noise in the build log.
  set(_args gen --quiet --profile "${_scgen_PROFILE}" --out "${_scgen_OUTPUT_DIR}")
  if(_scgen_INSTALL OR _scgen_SOFTWARECONTAINER)
    if(NOT DEFINED CMAKE_INSTALL_LIBDIR AND NOT DEFINED CMAKE_SIZEOF_VOID_P)
      # A LANGUAGES NONE project: GNUInstallDirs would warn that it cannot
      # pick a libdir. None is installed here; keep the value local.
      set(CMAKE_INSTALL_LIBDIR lib)
    endif()
    include(GNUInstallDirs)
  endif()
  if(_scgen_SOFTWARECONTAINER)
    # SoftwareContainer compiles in absolute paths (INSTALL_BINDIR from
    # CMAKE_INSTALL_FULL_BINDIR, LXCTEMPLATE below FULL_DATAROOTDIR), so the
    # drop-in gets absolute ones too.
    list(APPEND _args
      --set "install.prefix=${CMAKE_INSTALL_PREFIX}"
      --set "install.bindir=${CMAKE_INSTALL_FULL_BINDIR}"
      --set "install.datadir=${CMAKE_INSTALL_FULL_DATADIR}")
    set(_sc_sets "")
    if(DEFINED ENABLE_NETWORKGATEWAY)
      if(ENABLE_NETWORKGATEWAY)
        list(APPEND _sc_sets "network.gateway=true")
      else()
        list(APPEND _sc_sets "network.gateway=false")
      endif()
    endif()
    if(NOT "${SC_BRIDGE_DEVICE}" STREQUAL "")
      list(APPEND _sc_sets "network.bridge=${SC_BRIDGE_DEVICE}")
    endif()
    foreach(_sc IN LISTS _sc_sets)
      string(REGEX MATCH "^[^=]+=" _key "${_sc}")
      foreach(_set IN LISTS _scgen_SET)
        string(FIND "${_set}" "${_key}" _at)
        if(_at EQUAL 0 AND NOT _set STREQUAL _sc)
          message(WARNING
            "scgen_generate: SET ${_set} overrides ${_sc}, which SoftwareContainer's "
            "ENABLE_NETWORKGATEWAY / SC_BRIDGE_DEVICE ask for: the agent and its "
            "containers' config then disagree (e.g. \"Could not find interface eth0 in container\")")
        endif()
      endforeach()
      list(APPEND _args --set "${_sc}")
    endforeach()
  elseif(_scgen_INSTALL)
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
  # changed, Make does not, so with Make the rule also depends on this file,
  # which is rewritten only when the command changes. Not with Ninja: there
  # a build-tree file that no rule makes is an input CMP0058 warns about in
  # projects that leave that policy unset (SoftwareContainer's 3.0.2).
  if(NOT CMAKE_GENERATOR MATCHES "Ninja")
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
  endif()

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
    if(_scgen_SOFTWARECONTAINER)
      # SoftwareContainer's own variables when this runs inside its build,
      # else the same paths computed as its top CMakeLists.txt does.
      set(_template_dir "${LXC_TEMPLATE_DIR}")
      if(_template_dir STREQUAL "")
        set(_template_dir "${CMAKE_INSTALL_FULL_DATAROOTDIR}/softwarecontainer/lxc-templates")
      endif()
      set(_conf_dir "${SYS_CONFIG_DIR}")
      if(_conf_dir STREQUAL "")
        set(_conf_dir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/softwarecontainer")
      endif()
      set(_artifacts_dir "${CMAKE_INSTALL_FULL_DATADIR}/softwarecontainer/scgen")
    else()
      set(_template_dir "${CMAKE_INSTALL_DATADIR}/softwarecontainer/lxc-templates")
      set(_conf_dir "${CMAKE_INSTALL_SYSCONFDIR}/softwarecontainer")
      set(_artifacts_dir "${CMAKE_INSTALL_DATADIR}/softwarecontainer/scgen")
    endif()
    install(PROGRAMS "${_dir}/lxc-softwarecontainer"
      DESTINATION "${_template_dir}" ${_component})
    install(FILES "${_dir}/softwarecontainer.conf"
      DESTINATION "${_conf_dir}" ${_component})
    install(PROGRAMS "${_dir}/lxc-softwarecontainer"
      DESTINATION "${_artifacts_dir}" ${_component})
    set(_plain ${_outputs})
    list(REMOVE_ITEM _plain "${_dir}/lxc-softwarecontainer")
    install(FILES ${_plain}
      DESTINATION "${_artifacts_dir}" ${_component})
    if(_scgen_SUBIDS)
      # The build tree's artifacts name the same id map as the installed
      # ones; the root is DESTDIR's (the running system without one).
      install(CODE "
        set(_root \"\$ENV{DESTDIR}/\")
        execute_process(COMMAND \"${SCGEN_EXECUTABLE}\" subids --artifacts \"${_dir}\" --root \"\${_root}\"
          RESULT_VARIABLE _rc)
        if(NOT _rc EQUAL 0)
          message(FATAL_ERROR \"scgen subids failed (exit \${_rc})\")
        endif()" ${_component})
    endif()
  elseif(_scgen_SUBIDS)
    message(FATAL_ERROR "scgen_generate: SUBIDS needs INSTALL")
  endif()
endfunction()

cmake_policy(POP)

set(SCGen_FOUND TRUE)
