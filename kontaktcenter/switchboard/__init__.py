"""The switchboard (växel): the city's employees, their absence notices, name dialling and transfers."""
