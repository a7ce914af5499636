ALTER TYPE public.address ADD ATTRIBUTE zip varchar(10);
