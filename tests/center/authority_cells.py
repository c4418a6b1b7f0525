"""The cells of the authority table: what a request by a user in a relation to the case must get."""

OK, F, NF, BAD, NR = "allowed", "403", "404", "422", "no route"


# --- relations: which relation each demo user holds to each family's case (literal) -------------------------
# (label used in the table's rows, the set of relation names the kernel should resolve — None: not checked,
#  the user's role gives no case rights whatever the place)
RELATIONS = {
    "T": {
        "qs.staff": ("handling", {"handling", "origin"}), "qs.center": ("handling", {"handling", "origin"}),
        "qs.leader": ("handling", {"handling", "origin"}),
        "qs01.head": ("origin", {"origin"}), "qs01.cadre": ("origin", {"origin"}), "qs01.g1": ("origin", {"origin"}),
        "center.li": ("above", {"above", "origin"}), "leader.wang": ("above", {"above", "origin"}),
        "cg.staff": ("none", set()), "cg.leader": ("none", set()), "xinfang.liaison": ("none", set()),
        "minzheng.liaison": ("none", set()), "renshe.head": ("none", set()),
        "admin": ("none", None), "secadmin": ("none", None), "auditor": ("none", None),
    },
    "Tf": {
        "qs.staff": ("handling", {"handling", "origin"}), "qs.center": ("handling", {"handling", "origin"}),
        "qs.leader": ("handling", {"handling", "origin"}), "qs01.head": ("origin", {"origin"}),
        "center.li": ("above", {"above", "origin"}),
        "minzheng.liaison": ("feedback", {"feedback"}), "xinfang.liaison": ("feedback", {"feedback"}),
        "xinfang.head": ("feedback", {"feedback"}), "renshe.liaison": ("none", set()),
    },
    "V": {
        "qs01.head": ("handling", {"handling", "origin"}), "qs01.cadre": ("handling", {"handling", "origin"}),
        "qs01.g1": ("origin", {"origin"}),
        "qs.staff": ("above", {"above", "origin"}), "qs.center": ("above", {"above", "origin"}),
        "qs.leader": ("above", {"above", "origin"}), "center.li": ("above", {"above", "origin"}),
        "leader.wang": ("above", {"above", "origin"}), "cg.staff": ("none", set()),
    },
    "D": {
        "center.li": ("handling", {"handling", "origin"}), "leader.wang": ("handling", {"handling", "origin"}),
        "xinfang.liaison": ("feedback", {"feedback"}), "xinfang.head": ("feedback", {"feedback"}),
        "minzheng.liaison": ("feedback", {"feedback"}), "zhujian.liaison": ("feedback", {"feedback"}),
        "renshe.liaison": ("none", set()), "renshe.head": ("none", set()), "qs.staff": ("none", set()),
        "qs.leader": ("none", set()),
    },
    "X": {
        "renshe.liaison": ("handling", {"handling"}), "renshe.head": ("handling", {"handling"}),
        "center.li": ("handling_unit", {"handling_unit", "origin"}),
        "leader.wang": ("handling_unit", {"handling_unit", "origin"}),
        "xinfang.liaison": ("none", set()), "xinfang.head": ("none", set()), "qs.staff": ("none", set()),
    },
    "E": {
        "center.li": ("handling", {"handling", "origin"}), "leader.wang": ("handling", {"handling", "origin"}),
        "qs.leader": ("owner_leader", {"owner_leader", "origin"}), "qs.staff": ("origin", {"origin"}),
        "qs01.head": ("none", set()),
    },
    "A": {
        "qs.staff": ("handling", {"handling", "origin"}), "qs.leader": ("handling", {"handling", "origin"}),
        "qs01.cadre": ("filer", {"filer"}), "qs01.head": ("none", set()), "qs01.g1": ("none", set()),
    },
}
