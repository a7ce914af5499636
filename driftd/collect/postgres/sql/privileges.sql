-- The letters of aclitem text and the privilege each stands for, from the server itself (so
-- a privilege a later version adds is known): every privilege an owner can hold on the kinds
-- of object read here, written as a one-privilege aclitem granted to PUBLIC ("=r/owner").
SELECT DISTINCT substr(makeaclitem(0, x.grantor, x.privilege_type, false)::text, 2, 1) AS letter,
       x.privilege_type AS privilege
FROM unnest('{r,s,f,T,n,d}'::"char"[]) AS o(objtype), aclexplode(acldefault(o.objtype, 10)) x
