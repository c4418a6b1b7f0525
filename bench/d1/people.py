"""Parties of D1 cases: people with valid 居民身份证 numbers and phones, organisations with valid 统一社会信用代码.

Personal data is stored exactly as intake stores it (center.cases.intake.operations._party_row): normalised by
center.cases.intake.identity, encrypted with ``core.crypto.provider().encrypt``, and blind-indexed with
``provider().blind_index`` — so the application's search by ID number or phone finds a generated party. A
person keeps the ciphertexts made the first time (``Person.sealed``): a repeat petitioner's later cases cost no
new encryption (ciphertext is random per encryption anyway; any of them decrypts to the same value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bench.d1 import names
from center.cases.intake.identity import (
    USCC_ALPHABET,
    normalize_phone,
    normalize_resident_id,
    normalize_uscc,
    resident_id_check_char,
    uscc_check_char,
)
from core.crypto import provider

MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                   "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189",
                   "199")
#: Most residents are from the district (fictional area code 990101, as in the demo); some from elsewhere.
AREA_CODES = ("990101",) * 18 + ("110101", "510107")
BORN_FROM, BORN_DAYS = date(1940, 1, 1), 65 * 365


@dataclass
class Person:
    kind: str  # person | organisation
    name: str
    id_type: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    #: (id_number_enc, id_index, phone_enc, phone_index, address_enc), made on first use
    sealed: tuple | None = None


class People:
    def __init__(self, rng):
        self.rng = rng
        self.crypto = provider()
        self.used_ids: set[str] = set()
        self.encryptions = 0

    # --- identities ---------------------------------------------------------------------------------------

    def resident_id(self) -> str:
        rng = self.rng
        while True:
            born = BORN_FROM + timedelta(days=rng.randrange(BORN_DAYS))
            first17 = f"{rng.choice(AREA_CODES)}{born:%Y%m%d}{rng.randrange(1000):03d}"
            number = first17 + resident_id_check_char(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return normalize_resident_id(number)  # the project's own check, as intake applies it

    def uscc(self) -> str:
        rng = self.rng
        while True:
            first17 = "91990101" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
            code = first17 + uscc_check_char(first17)
            if code not in self.used_ids:
                self.used_ids.add(code)
                return normalize_uscc(code)

    def phone(self) -> str:
        rng = self.rng
        if rng.random() < 0.06:  # a landline, typed the way people type it
            return normalize_phone(f"022-{rng.randint(2, 8)}{rng.randrange(10**6, 10**7)}")
        return normalize_phone(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}")

    def person_name(self) -> str:
        rng = self.rng
        if rng.random() < 0.002:
            return rng.choice(names.RARE_NAMES)
        given = rng.choice(names.GIVEN) if rng.random() < 0.7 else rng.choice(names.GIVEN_ONE)
        return rng.choice(names.SURNAMES) + given

    # --- parties ------------------------------------------------------------------------------------------

    def person(self, township, village) -> Person:
        rng = self.rng
        address = None
        if rng.random() < 0.8:
            if village.kind == "community":
                address = (f"示范区{township.name}{village.name}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
                           f"{rng.randint(1, 18)}{rng.randint(1, 4):02d}室")
            else:
                address = f"示范区{township.name}{village.name}{rng.randint(1, 12)}组{rng.randint(1, 99)}号"
        has_id = rng.random() < 0.95
        return Person("person", self.person_name(), "resident_id" if has_id else None,
                      self.resident_id() if has_id else None, self.phone() if rng.random() < 0.92 else None, address)

    def organisation(self) -> Person:
        rng = self.rng
        name = "示范区" + rng.choice(names.COMPANY_HEAD) + rng.choice(names.COMPANY_TAIL)
        return Person("organisation", name, "uscc", self.uscc(), self.phone() if rng.random() < 0.6 else None,
                      None)

    def seal(self, p: Person) -> tuple:
        """The stored columns of a party, encrypted once per person."""
        if p.sealed is None:
            enc, index = self.crypto.encrypt, self.crypto.blind_index
            p.sealed = (enc(p.id_number) if p.id_number else None, index(p.id_number) if p.id_number else None,
                        enc(p.phone) if p.phone else None, index(p.phone) if p.phone else None,
                        enc(p.address) if p.address else None)
            self.encryptions += sum(1 for v in (p.id_number, p.phone, p.address) if v)
        return p.sealed

    def party_row(self, rows, case_id: int, role: str, p: Person, at) -> None:
        id_enc, id_index, phone_enc, phone_index, address_enc = self.seal(p)
        rows.add("case_parties", case_id=case_id, role=role, kind=p.kind, name=p.name,
                 id_type=p.id_type, id_number_enc=id_enc, id_index=id_index,
                 phone_enc=phone_enc, phone_index=phone_index, address_enc=address_enc, created_at=at,
                 updated_at=at)
