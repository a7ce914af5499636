CREATE FUNCTION public.whoami() RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog AS 'SELECT current_user::text';
