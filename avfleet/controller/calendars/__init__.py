"""School calendars: Swedish public holidays, each municipality's breaks and study days, school days."""
