-- Key rotation (issue 12): the authority keys this site learnt from verified
-- sync replies, beside those of ALLOT_AUTHORITY_PUBLIC_KEY.  A reply signed by
-- a trusted key may announce the authority's other keys ("keys") and the kids
-- it retired ("retiredKids"); a retired kid is never trusted again, also when
-- ALLOT_AUTHORITY_PUBLIC_KEY names it.  Rows are only added or retired.
CREATE TABLE authority_keys (
    kid text PRIMARY KEY CHECK (length(kid) = 43),
    x text CHECK (x IS NULL OR length(x) = 43),   -- NULL: known only as retired
    learned_at timestamptz NOT NULL,
    announced_by text NOT NULL,                   -- the kid that signed the reply
    retired_at timestamptz
);
