SUMMARY = "ivi-logging: Pelagicore's C++ logging API, which SoftwareContainer builds against"
DESCRIPTION = "A header-mostly C++ logging library with console and (optional) \
DLT back ends; SoftwareContainer's agent and library log through it."
HOMEPAGE = "https://github.com/Pelagicore/ivi-logging"
SECTION = "libs"
LICENSE = "MPL-2.0"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=815ca599c9df247a0c7f619bab123dad"

# The commit SoftwareContainer 0.19.0 was built with (2017-05-15); version
# 1.3.0 in its CMakeLists.txt, untagged upstream. One variable, so that a
# mirror or a local tarball of the same tree can stand in.
IVI_LOGGING_SRC_URI ?= "git://github.com/Pelagicore/ivi-logging.git;protocol=https;branch=master"
SRC_URI = "${IVI_LOGGING_SRC_URI}"
SRCREV = "7ec74df57744189bdccb77a184beceefaf446ba3"

inherit cmake pkgconfig

# Console back end only; DLT needs meta-ivi's dlt-daemon.
EXTRA_OECMAKE = "-DENABLE_DLT_BACKEND=OFF -DENABLE_CONSOLE_BACKEND=ON"

FILES:${PN}-dev += "${libdir}/cmake/IVILogging"
