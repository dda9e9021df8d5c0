SUMMARY = "A CMake project generating with scgen through find_package(SCGen) (test)"
DESCRIPTION = "project(LANGUAGES NONE), so OE-Core's cmake class configures it \
without a cross compiler; scgen_generate(... INSTALL) runs scgen-native."
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"
SRC_URI = "file://CMakeLists.txt file://consumer.toml"
S = "${UNPACKDIR}"
DEPENDS = "scgen-native"
inherit cmake
FILES:${PN} += "${datadir}/softwarecontainer"
# OE-Core's toolchain file requires the cross archiver, which the fixture
# lacks (no cross binutils); a project without compiled code never runs it.
OECMAKE_AR = "true"
