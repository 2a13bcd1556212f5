"""The sandbox's addresses and service descriptions: the Cash-In and TransactionManagement
paths of each API version it serves, their WSDLs (``bot/allpay/*.wsdl``, written for 1.1 and
given another version's namespaces as asked) and the XML Schema it validates requests with."""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import cast

from lxml import etree

from bot.allpay.protocol import ApiVersion

SANDBOX_PATH = "/allpay-public-soap/cash-in-transaction-management/v1.1"
TM_PATH = "/allpay-public-soap/transaction-management/v1.1"
#: Allpay publishes Cash-In (and TransactionManagement) 1.2 beside 1.1: same operations and
#: types, another operation namespace. The sandbox serves both, each at its own path.
PATHS = {
    ApiVersion.V1_1: (SANDBOX_PATH, TM_PATH),
    ApiVersion.V1_2: (
        "/allpay-public-soap/cash-in-transaction-management/v1.2",
        "/allpay-public-soap/transaction-management/v1.2",
    ),
}
WSDL_FILES = {
    path: (file, version)
    for version, paths in PATHS.items()
    for path, file in zip(paths, ("cashin.wsdl", "tm.wsdl"), strict=True)
}


def wsdl_text(address: str, path: str = SANDBOX_PATH) -> str:
    file, version = WSDL_FILES[path]
    template = resources.files("bot.allpay").joinpath(file).read_text(encoding="utf-8")
    if version is not ApiVersion.V1_1:  # the WSDLs are written for 1.1
        template = template.replace(ApiVersion.V1_1.service_ns, version.service_ns)
        template = template.replace(ApiVersion.V1_1.tm_ns, version.tm_ns)
        template = template.replace(
            "1.1 as the embedded sandbox", f"{version} as the embedded sandbox"
        )
    return template.replace("SANDBOX_ADDRESS", address)


@functools.cache
def wsdl_schema(path: str = SANDBOX_PATH) -> etree.XMLSchema:
    """The XML Schema inside a served WSDL's ``types``: what the sandbox accepts there."""
    wsdl = etree.fromstring(wsdl_text("http://localhost/", path).encode())
    types = "{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"
    found = wsdl.find(types)
    assert found is not None
    # A standalone copy of the schema with every namespace the WSDL declares in scope
    # (its QName-valued attributes refer to the WSDL's "tns" prefix).
    nsmap = cast(dict[str, str], wsdl.nsmap)
    attrib = {str(k): str(v) for k, v in found.attrib.items()}
    schema = etree.Element(found.tag, attrib=attrib, nsmap=nsmap)
    schema.extend(copy.deepcopy(child) for child in found)
    return etree.XMLSchema(schema)
